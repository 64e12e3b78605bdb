"""``delta eval``'s fixed protocol: replay a test history and score every strategy on it.

The protocol, so that figures compare across tools:

- A train history and a test history. The test history is replayed in order; when command
  ``i`` is predicted, the history is every train command plus test commands ``0..i-1``.
- **top-1 / top-5**: on the empty prompt, the first (any of the first five) suggestions
  equals command ``i``.
- **keystroke savings**: the command is typed character by character; at the first moment
  that typed prefix + the top suggestion equals the whole command, one key accepts it. Its
  cost is the keys pressed (``len`` when never suggested); KS = 1 − keys / characters over
  the whole test history (Enter not counted).
- **latency** p50/p95 over every suggestion request (the empty prompt and each keystroke).
- **perplexity** of the model on the test commands (their tokens and the end of command).

Everything is simulated on in-memory structures (:class:`~delta_core.suggest.history.MemoryHistory`);
nothing is written to the memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from delta_core.learn.eval.strategies import BASELINES, HistoryEngine
from delta_core.plugin.protocols import Suggestion
from delta_core.records.record import Record
from delta_core.suggest.engine import MODEL_WEIGHT, CompletionMemo, combine
from delta_core.suggest.history import MemoryHistory
from delta_core.tokenizer.format import Turn, as_turn

TOP_K = 5


@dataclass
class StrategyResult:
    top1: int = 0
    top5: int = 0
    keys: int = 0
    chars: int = 0
    latencies: list[float] = field(default_factory=list)
    nll: float = 0.0
    tokens: int = 0

    def summary(self, n: int) -> dict[str, Any]:
        lat = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 4)

        out: dict[str, Any] = {
            "top1": round(self.top1 / n, 4) if n else 0.0,
            "top5": round(self.top5 / n, 4) if n else 0.0,
            "keystroke_savings": round(1 - self.keys / self.chars, 4) if self.chars else 0.0,
            "latency_p50_ms": pct(0.50),
            "latency_p95_ms": pct(0.95),
        }
        if self.tokens:
            out["perplexity"] = round(math.exp(self.nll / self.tokens), 4)
        return out


class DeltaStrategy:
    """Delta's engine: the history ranking and, when a model is given, its completions."""

    def __init__(self, hist: MemoryHistory, completer: Any | None = None, name: str = "delta"):
        self.name = name
        self.history = HistoryEngine(hist)
        self.completer = completer
        self.turns: list[Turn] = []
        self.memo = CompletionMemo()
        self.result = StrategyResult()

    def _model(self, prefix: str) -> Suggestion | None:
        if self.completer is None:
            return None
        hit, got = self.memo.get(len(self.turns), prefix)
        if not hit:
            got = self.completer.complete(self.turns, self.history.cwd, prefix)
            self.memo.put(len(self.turns), prefix, got)
        return None if got is None else Suggestion(got[0], got[1], "model")

    def suggest(self, prefix: str, k: int) -> list[str]:
        hist = self.history.rank(prefix, k)
        weight = getattr(self.completer, "model_weight", MODEL_WEIGHT)
        return [s.command for s in combine(hist, self._model(prefix), k, weight)]

    def observe(self, rec: Record) -> None:
        if self.completer is not None:
            nll, n = self.completer.nll(self.turns, rec.cwd, rec.command)
            self.result.nll += nll
            self.result.tokens += n
        self.turns.append(as_turn(rec))
        self.history.observe(rec)


def keys_to_type(
    command: str,
    suggest: Callable[[str, int], list[str]],
    lat: list[float],
    start: int = 0,
    hist: MemoryHistory | None = None,
    reach: int = 0,
) -> int:
    """Keys pressed to enter ``command`` with ``suggest``'s top suggestion (see module doc).

    ``start``: prefixes shorter than this were already asked about (and missed). ``hist``
    and ``reach``: where no history command extends the typed prefix, only a model
    completion (``reach`` characters at most, 0 without a model) could still give the
    command, so the prefixes further than that from its end are not asked about. This is
    exact (a longer prefix is extended by fewer commands still) and keeps a 1 MB command
    from costing a million suggestions.
    """
    n = len(command)
    j = start
    while j < n:
        if hist is not None and n - j > reach and not hist.extends(command[:j]):
            if reach <= 0:
                return n
            j = n - reach
        t0 = time.perf_counter()
        top = suggest(command[:j], 1)
        lat.append(time.perf_counter() - t0)
        if top and top[0] == command:
            return j + 1
        j += 1
    return n


def evaluate(
    train: Sequence[Record],
    test: Sequence[Record],
    completer: Any | None = None,
    *,
    others: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Replay ``test`` after ``train``; return ``{"commands": N, "strategies": {...}}``.

    ``completer`` is the model of the ``delta`` strategy (None: history only); ``others``
    adds more engines by name with their own models (the model being replaced, for the gate).
    """
    hist = MemoryHistory()
    baselines = [cls(hist) for cls in BASELINES]
    engines = [DeltaStrategy(hist, completer)]
    engines += [DeltaStrategy(hist, c, name) for name, c in (others or {}).items()]
    strategies = [*baselines, *engines]
    results = {s.name: StrategyResult() for s in baselines}
    for e in engines:
        results[e.name] = e.result
    for rec in train:
        hist.add(rec)
        for s in strategies:
            if isinstance(s, DeltaStrategy):
                s.turns.append(as_turn(rec))
                s.history.observe(rec)
            else:
                s.observe(rec)
    for i, rec in enumerate(test):
        cmd = rec.command
        for s in strategies:
            r = results[s.name]
            t0 = time.perf_counter()
            got = s.suggest("", TOP_K)
            r.latencies.append(time.perf_counter() - t0)
            r.top1 += bool(got) and got[0] == cmd
            r.top5 += cmd in got
            reach = getattr(getattr(s, "completer", None), "reach", 0)
            r.keys += (
                1
                if got and got[0] == cmd
                else keys_to_type(cmd, s.suggest, r.latencies, 1, hist, reach)
            )
            r.chars += len(cmd)
        for s in strategies:
            s.observe(rec)
        hist.add(rec)
        if progress is not None:
            progress(i + 1)
    n = len(test)
    return {"commands": n, "strategies": {name: r.summary(n) for name, r in results.items()}}
