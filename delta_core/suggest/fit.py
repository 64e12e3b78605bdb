"""The model's weight in the suggestion mixture, fitted on history it did not train on.

:func:`delta_core.suggest.engine.combine` ranks by ``w * P_model + (1 - w) * P_history``. How much
to trust a model depends on the model and on the user: a small model trained on a long,
varied history is often less sure than the previous-command statistics, one trained on a
repetitive history knows better. So ``w`` is fitted per model on held-out commands: first
by EM for the two-component mixture (maximum likelihood of the next commands), then
validated on what the user sees (the merged first suggestion on the empty prompt): the
model gets the least weight that shows about as many right first suggestions as the best
weight (:func:`validated_weight`, the one-standard-error rule). It is kept
in the model's directory (``blend.json``) for every shell and ``delta eval`` that load it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delta_core.paths import write_private
from delta_core.plugin.protocols import Suggestion, SuggestQuery
from delta_core.records.record import Record
from delta_core.suggest.engine import MODEL_WEIGHT, combine
from delta_core.suggest.history import MemoryHistory
from delta_core.suggest.rank import (
    QUERY_PREVIOUS,
    Weights,
    history_distribution,
    rank_history,
)
from delta_core.tokenizer.format import as_turn

BLEND_FILE = "blend.json"
#: Held-out commands used at most (each costs two model calls).
FIT_COMMANDS = 1000
#: The weights :func:`validated_weight` tries.
GRID = tuple(i / 20 for i in range(1, 20))
#: History candidates merged on the empty prompt (``delta eval``'s top-5).
TOP_K = 5


def mixture_weight(p_model: Sequence[float], p_history: Sequence[float], iters: int = 100) -> float:
    """The ``w`` maximising ``sum(log(w * m + (1 - w) * h))`` (EM; 0.5 when there is no data)."""
    pairs = [(m, h) for m, h in zip(p_model, p_history, strict=True) if m > 0 or h > 0]
    if not pairs:
        return 0.5
    w = 0.5
    for _ in range(iters):
        w = sum(w * m / (w * m + (1 - w) * h) for m, h in pairs) / len(pairs)
        w = min(max(w, 1e-3), 1 - 1e-3)
    return w


def validated_weight(
    events: Sequence[tuple[list[Suggestion], Suggestion | list[Suggestion] | None, str]],
    prior: float,
) -> float:
    """The smallest weight in :data:`GRID` whose merged first suggestion is the next command
    about as often as the best weight's (among equally good ones, the best is the one
    nearest ``prior``, the likelihood fit).

    "About as often": fewer hits than the best by at most one standard error of the paired
    difference (the square root of the events where the two disagree, as in McNemar's
    test). Taking the smallest such weight is the one-standard-error rule: the model gets no
    more weight than the held-out commands show it earns. The likelihood fit alone can trust
    a model that is well calibrated yet ranks worse: on SEA User15 (a tuning user) it gave
    0.95 and a merged top-1 of 60.7 % against 66.3 % with this rule; over eight tuning users
    (SEA User11, 13, 15, 17, Purdue USER4, 5, 6, 8, tiny models) mean top-1 53.6 -> 54.4 %
    and keystroke savings 56.4 -> 56.7 %, no user worse by more than 0.2 points of top-1.
    ``events``: per held-out command, history's best candidates, the model's completion and
    the command that came.
    """

    def hits(w: float) -> list[bool]:
        out = []
        for hist, model, cmd in events:
            top = combine(hist, model, 1, w)
            out.append(bool(top) and top[0].command == cmd)
        return out

    table = {w: hits(w) for w in GRID}
    best = max(GRID, key=lambda w: (sum(table[w]), -abs(w - prior)))

    def close(w: float) -> bool:
        differ = sum(a != b for a, b in zip(table[w], table[best], strict=True))
        return sum(table[best]) - sum(table[w]) <= math.sqrt(differ)

    return min(w for w in GRID if close(w))


def fit_model_weight(
    completer: Any,
    before: Sequence[Record],
    heldout: Sequence[Record],
    weights: Weights | None = None,
) -> float:
    """Replay ``heldout`` after ``before`` on the empty prompt, as the shell would suggest the
    next command; return the model's weight (:func:`validated_weight`, the likelihood fit
    :func:`mixture_weight` as its prior)."""
    weights = weights or Weights()
    hist = MemoryHistory()
    for rec in before:
        hist.add(rec)
    turns = [as_turn(r) for r in before]
    prev = before[-1] if before else None
    previous = [r.command for r in before[-QUERY_PREVIOUS:]]
    p_model, p_history = [], []
    events: list[tuple[list[Suggestion], list[Suggestion], str]] = []
    for rec in heldout[:FIT_COMMANDS]:
        cwd = prev.cwd if prev is not None else ""
        q = SuggestQuery("", cwd, tuple(previous[-QUERY_PREVIOUS:]), limit=TOP_K)
        probs = history_distribution(hist, q, weights)
        p_history.append(probs.get(rec.command, 0.0))
        nll, _ = completer.nll(turns, cwd, rec.command)
        p_model.append(math.exp(-nll))
        got = completer.complete(turns, cwd, "")
        ranked = rank_history(hist, q, weights, check_paths=False, probs=probs)
        rescore = getattr(completer, "rescore", None)
        found = (
            rescore(turns, cwd, "", got, [s.command for s in ranked])
            if rescore is not None
            else ([] if got is None else [got])
        )
        model = [Suggestion(c, p, "model") for c, p in found]
        events.append((ranked, model, rec.command))
        hist.add(rec)
        turns.append(as_turn(rec))
        previous.append(rec.command)
        prev = rec
    return validated_weight(events, mixture_weight(p_model, p_history))


#: Held-out commands the typed-prefix weight is fitted on at most (each is typed out).
TYPED_FIT_COMMANDS = 300
#: The weights :func:`fit_typed_weight` tries (0: history alone once something is typed).
TYPED_GRID = (0.0, *GRID)


def _candidates(
    completer: Any,
    hist: MemoryHistory,
    turns: list[Any],
    context: tuple[tuple[str, ...], str],
    prefix: str,
    memo: Any,
    weights: Weights,
) -> tuple[list[Suggestion], list[Suggestion]]:
    """History's candidates for ``prefix`` and the model's answer, as ``delta eval`` asks."""
    previous, cwd = context
    q = SuggestQuery(prefix, cwd, previous, limit=max(1, getattr(completer, "rerank", 0)))
    ranked = rank_history(hist, q, weights, check_paths=False)
    hit, got = memo.get(0, prefix)
    if not hit:
        got = completer.complete(turns, cwd, prefix)
        memo.put(0, prefix, got)
    rescore = getattr(completer, "rescore", None)
    if rescore is None:
        found = [] if got is None else [got]
    else:
        found = rescore(turns, cwd, prefix, got, [s.command for s in ranked])
    return ranked, [Suggestion(c, p, "model") for c, p in found]


def fit_typed_weight(
    completer: Any,
    before: Sequence[Record],
    heldout: Sequence[Record],
    weights: Weights | None = None,
) -> float:
    """The model's weight once something is typed: the one that saves the most keystrokes.

    The weight fitted on the empty prompt (:func:`fit_model_weight`) judges the next
    command; while a command is typed the model competes on its arguments, where history
    knows less, so one weight for both under-uses it there. Each held-out command is typed
    key by key (``delta eval``'s fixed protocol: one key accepts the first suggestion when
    it is the command); history's candidates and the model's answer at each prefix do not
    depend on the weight, so they are computed once and every weight in
    :data:`TYPED_GRID` is judged on them. Ties go to the smaller weight; when every weight
    ties (the model changed no held-out command's keys, common on a short history of
    distinct commands such as fish's), nothing argues against the model and the default
    :data:`~delta_core.suggest.engine.MODEL_WEIGHT` is kept (dev16 fish: the model then
    saved keys on 10 commands of the replay and cost keys on none, against 7 and 0).
    """
    from delta_core.suggest.engine import CompletionMemo

    weights = weights or Weights()
    hist = MemoryHistory()
    for rec in before:
        hist.add(rec)
    turns = [as_turn(r) for r in before]
    previous = [r.command for r in before[-QUERY_PREVIOUS:]]
    cwd = before[-1].cwd if before else ""
    keys = dict.fromkeys(TYPED_GRID, 0)
    reach = getattr(completer, "reach", 1 << 30)
    for rec in heldout[:TYPED_FIT_COMMANDS]:
        cmd = rec.command
        memo = CompletionMemo()
        steps: dict[int, tuple[list[Suggestion], list[Suggestion]]] = {}
        context = (tuple(previous[-QUERY_PREVIOUS:]), cwd)
        for w in TYPED_GRID:
            spent, j = len(cmd), 1
            while j < len(cmd):
                if len(cmd) - j > reach and not hist.extends(cmd[:j]):
                    j = len(cmd) - reach  # only the model could complete it, from here on
                if j not in steps:
                    steps[j] = _candidates(completer, hist, turns, context, cmd[:j], memo, weights)
                top = combine(*steps[j], 1, w)
                if top and top[0].command == cmd:
                    spent = j + 1
                    break
                j += 1
            keys[w] += spent
        hist.add(rec)
        turns.append(as_turn(rec))
        previous.append(cmd)
        cwd = rec.cwd
    if len(set(keys.values())) == 1:
        return MODEL_WEIGHT
    return min(TYPED_GRID, key=lambda w: (keys[w], w))


def save_model_weight(
    model_dir: Path, weight: float, commands: int, typed: float | None = None
) -> None:
    """Keep the fitted weights beside the model (read by :func:`load_model_weight` and
    :func:`load_typed_weight`)."""
    data: dict[str, Any] = {"model_weight": round(weight, 4), "fitted_on_commands": commands}
    if typed is not None:
        data["typed_weight"] = round(typed, 4)
    write_private(Path(model_dir) / BLEND_FILE, json.dumps(data) + "\n")  # like every model file


def load_model_weight(model_dir: Path) -> float | None:
    """The weight fitted for the model in ``model_dir``; None when none was (or unreadable)."""
    try:
        data = json.loads((Path(model_dir) / BLEND_FILE).read_text(encoding="utf-8"))
        weight = float(data["model_weight"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return weight if 0.0 <= weight <= 1.0 else None


def load_typed_weight(model_dir: Path) -> float | None:
    """The weight fitted for typed prefixes (:func:`fit_typed_weight`); None when none was."""
    try:
        data = json.loads((Path(model_dir) / BLEND_FILE).read_text(encoding="utf-8"))
        weight = float(data["typed_weight"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return weight if 0.0 <= weight <= 1.0 else None


def model_weight_for(model_dir: Path) -> float:
    """The weight the model in ``model_dir`` gets against history: the one fitted for it,
    else the default (what the shell, ``delta suggest`` and ``delta eval`` all use)."""
    found = load_model_weight(model_dir)
    return MODEL_WEIGHT if found is None else found
