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
- **keystroke savings, word acceptance** (``keystroke_savings_words``): as above, but a key
  may also accept the suggestion's next word (fish's and zsh-autosuggestions' forward-word,
  Alt-F / Ctrl-Right in the shell) when the command goes on with that word; the user then
  types on from there. A completion right in its first arguments saves keys even when its
  tail is wrong. The fixed figure above stays the headline.
- **where the model wins** (``model_wins``, when a model-less Delta engine runs beside a
  model): the commands the model entered in fewer keys than history alone, by where the
  accepted suggestion was taken: on the empty prompt (the next command), while the command
  name was typed, or in its arguments; and a few of them as examples (``model_examples``:
  what was typed, the model's completion, what history alone suggested there).
- **latency** p50/p95 over every suggestion request (the empty prompt and each keystroke).
- **perplexity** of the model on the test commands (their tokens and the end of command).

Everything is simulated on in-memory structures (:class:`~delta_core.suggest.history.MemoryHistory`);
nothing is written to the memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from delta_core.learn.eval.strategies import BASELINES, HistoryEngine
from delta_core.plugin.protocols import Suggestion
from delta_core.records.record import Record
from delta_core.suggest.engine import MODEL_WEIGHT, CompletionMemo, combine, next_word
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
    word_keys: int = 0
    #: per test command: keys pressed, and the typed length where the command was accepted
    per_command: list[tuple[int, int | None]] = field(default_factory=list)

    def summary(self, n: int) -> dict[str, Any]:
        lat = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 4)

        out: dict[str, Any] = {
            "top1": round(self.top1 / n, 4) if n else 0.0,
            "top5": round(self.top5 / n, 4) if n else 0.0,
            "keystroke_savings": round(1 - self.keys / self.chars, 4) if self.chars else 0.0,
            "keystroke_savings_words": (
                round(1 - self.word_keys / self.chars, 4) if self.chars else 0.0
            ),
            "latency_p50_ms": pct(0.50),
            "latency_p95_ms": pct(0.95),
        }
        if self.tokens:
            out["perplexity"] = round(math.exp(self.nll / self.tokens), 4)
        # raw counts, so results over several histories pool exactly
        out["counts"] = {
            "commands": n,
            "top1": self.top1,
            "keys": self.keys,
            "word_keys": self.word_keys,
            "chars": self.chars,
        }
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

    def _model(self, prefix: str, candidates: Sequence[str]) -> list[Suggestion]:
        if self.completer is None:
            return []
        hit, got = self.memo.get(len(self.turns), prefix)
        if not hit:
            got = self.completer.complete(self.turns, self.history.cwd, prefix)
            self.memo.put(len(self.turns), prefix, got)
        rescore = getattr(self.completer, "rescore", None)
        if rescore is None:
            return [] if got is None else [Suggestion(got[0], got[1], "model")]
        found = rescore(self.turns, self.history.cwd, prefix, got, candidates)
        return [Suggestion(c, p, "model") for c, p in found]

    def suggest(self, prefix: str, k: int) -> list[str]:
        rerank = getattr(self.completer, "rerank", 0) if self.completer is not None else 0
        hist = self.history.rank(prefix, max(k, rerank))
        which = "typed_weight" if prefix else "model_weight"
        weight = getattr(
            self.completer, which, getattr(self.completer, "model_weight", MODEL_WEIGHT)
        )
        model = self._model(prefix, [s.command for s in hist])
        return [s.command for s in combine(hist, model, k, weight)]

    @property
    def reach(self) -> int:
        """How far past every history command a suggestion may reach: the model's
        completion, or a word copied from the session."""
        model = getattr(self.completer, "reach", 0) if self.completer is not None else 0
        return max(model, self.history.reach)

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
    return accept_at(command, suggest, lat, start, hist, reach)[0]


def accept_at(
    command: str,
    suggest: Callable[[str, int], list[str]],
    lat: list[float],
    start: int = 0,
    hist: MemoryHistory | None = None,
    reach: int = 0,
) -> tuple[int, int | None]:
    """:func:`keys_to_type` and the typed length at which the command was accepted (None
    when it was typed to the end)."""
    n = len(command)
    j = start
    while j < n:
        if hist is not None and n - j > reach and not hist.extends(command[:j]):
            if reach <= 0:
                return n, None
            j = n - reach
        t0 = time.perf_counter()
        top = suggest(command[:j], 1)
        lat.append(time.perf_counter() - t0)
        if top and top[0] == command:
            return j + 1, j
        j += 1
    return n, None


#: Past this many typed characters, word acceptance is only counted where a history command
#: extends the prefix (a 1 MB command would otherwise cost a suggestion per character).
WORD_SCAN_CHARS = 2048


def keys_with_words(
    command: str,
    suggest: Callable[[str, int], list[str]],
    lat: list[float],
    hist: MemoryHistory | None = None,
    reach: int = 0,
) -> int:
    """Keys to enter ``command`` when a key accepts the whole suggestion or its next word.

    At each typed prefix: the suggestion is the command (one key, done); else its next word
    is the command's next word (one key, go on after it); else one character is typed.
    """
    n = len(command)
    keys = j = 0
    while j < n:
        hopeless = reach <= 0 or j > WORD_SCAN_CHARS  # and then only history could help
        if hist is not None and hopeless and n - j > reach and not hist.extends(command[:j]):
            return keys + (n - j)
        t0 = time.perf_counter()
        top = suggest(command[:j], 1)
        lat.append(time.perf_counter() - t0)
        keys += 1
        if top and top[0] == command:
            return keys
        if top and top[0].startswith(command[:j]):
            word = next_word(command[:j], top[0])
            if word and command.startswith(word, j):
                j += len(word)
                continue
        j += 1
    return keys


#: Where a suggestion was accepted, from the least typed to the most.
PLACES = ("empty_prompt", "command_name", "arguments")


def accept_place(command: str, at: int) -> str:
    """Where ``command`` was accepted after ``at`` typed characters: on the empty prompt,
    while its name was typed, or in its arguments (one of :data:`PLACES`)."""
    if at == 0:
        return "empty_prompt"
    return "command_name" if at <= len(command.split(" ", 1)[0]) else "arguments"


def model_wins(
    with_model: StrategyResult, without: StrategyResult, commands: Sequence[str]
) -> dict[str, Any]:
    """Where the model saved keys over history alone: commands, keys, and where accepted."""
    where = dict.fromkeys(PLACES, 0)
    saved = dict.fromkeys(PLACES, 0)
    better = worse = 0
    for cmd, (k1, at), (k0, _) in zip(
        commands, with_model.per_command, without.per_command, strict=True
    ):
        if k1 < k0 and at is not None:
            better += 1
            part = accept_place(cmd, at)
            where[part] += 1
            saved[part] += k0 - k1
        elif k1 > k0:
            worse += 1
    return {
        "better": better,
        "worse": worse,
        "keys_saved": sum(saved.values()),
        "commands_by_place": where,
        "keys_saved_by_place": saved,
    }


class Learned:
    """The test commands the model entered in fewer keys than history alone, as examples a
    user can check: what was typed, the model's completion (the command), and what history
    alone suggested at that point. Kept first: commands never run before (no history could
    have given them), then completions in the arguments, then those that saved most keys."""

    KEEP = 5

    def __init__(self, seen: Iterable[str] = ()) -> None:
        self.found: list[tuple[bool, int, int, dict[str, Any]]] = []
        self.seen = set(seen)

    def offer(self, command: str, with_model: StrategyResult, plain: DeltaStrategy) -> None:
        """Look at the command just replayed (both results hold it last), before it is
        observed: ``plain`` is still in the state it suggested from."""
        (k1, at), (k0, _) = with_model.per_command[-1], plain.result.per_command[-1]
        new = command not in self.seen
        self.seen.add(command)
        if at is None or k1 >= k0:
            return
        typed = command[:at]
        alone = plain.suggest(typed, 1)
        place = PLACES.index(accept_place(command, at))
        example = {"typed": typed, "model": command, "history": alone[0] if alone else None}
        self.found.append((new, place, k0 - k1, example))
        self.found.sort(key=lambda f: (not f[0], -f[1], -f[2]))
        del self.found[self.KEEP :]

    def best(self) -> list[dict[str, Any]]:
        return [e for *_, e in self.found]


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
    plain = next((e for e in engines if e.completer is None), None)
    learned = Learned(r.command for r in train)
    for i, rec in enumerate(test):
        cmd = rec.command
        for s in strategies:
            r = results[s.name]
            t0 = time.perf_counter()
            got = s.suggest("", TOP_K)
            r.latencies.append(time.perf_counter() - t0)
            r.top1 += bool(got) and got[0] == cmd
            r.top5 += cmd in got
            reach = getattr(s, "reach", 0)
            if got and got[0] == cmd:
                keys, at = 1, 0
            else:
                keys, at = accept_at(cmd, s.suggest, r.latencies, 1, hist, reach)
            r.keys += keys
            r.per_command.append((keys, at))
            r.word_keys += (
                1 if at == 0 else keys_with_words(cmd, s.suggest, r.latencies, hist, reach)
            )
            r.chars += len(cmd)
        if plain is not None and completer is not None:
            learned.offer(cmd, engines[0].result, plain)
        for s in strategies:
            s.observe(rec)
        hist.add(rec)
        if progress is not None:
            progress(i + 1)
    n = len(test)
    out: dict[str, Any] = {
        "commands": n,
        "strategies": {name: r.summary(n) for name, r in results.items()},
    }
    if completer is not None and plain is not None:
        out["model_wins"] = model_wins(engines[0].result, plain.result, [r.command for r in test])
        out["model_examples"] = learned.best()
    if completer is not None:
        out["model_weight"] = round(getattr(completer, "model_weight", MODEL_WEIGHT), 4)
        out["typed_weight"] = round(getattr(completer, "typed_weight", out["model_weight"]), 4)
    return out
