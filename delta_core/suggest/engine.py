"""The suggest engine: history candidates and model completions merged into the top k.

The shell and ``delta eval`` both go through :func:`combine`, so what is measured is what is
shown. Both sides score a candidate with a probability given what was typed: history with
its interpolated estimate (:mod:`delta_core.suggest.rank`), the model with the probability
of its completion under the constrained decoding. :func:`combine` ranks by the mixture
``w * P_model + (1 - w) * P_history``, where ``w`` is the model's weight, fitted per model on
held-out history (:mod:`delta_core.suggest.fit`). A candidate the model did not propose gets
the model's remaining mass in proportion to its history probability, so an unsure model
(a flat distribution) leaves history's order alone and a sure one overrules it.
:class:`CompletionMemo` keeps a completion while the user keeps typing along it: greedy
decoding constrained to a longer prefix of the same text would pick the same tokens, so the
keystroke costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from delta_core.plugin.protocols import Suggestion

#: The model's weight in the mixture when none was fitted for it.
MODEL_WEIGHT = 0.5


def combine(
    history: Sequence[Suggestion],
    model: Suggestion | Sequence[Suggestion] | None,
    k: int,
    model_weight: float = MODEL_WEIGHT,
) -> list[Suggestion]:
    """History candidates and model completions (scores are probabilities) as the top ``k``."""
    models = [model] if isinstance(model, Suggestion) else list(model or ())
    if not models or model_weight <= 0:
        return list(history)[:k]
    if not history:
        return sorted(models, key=lambda s: -s.score)[:k]
    p_hist: dict[str, float] = {}
    for s in history:
        p_hist.setdefault(s.command, s.score)
    p_model: dict[str, float] = {}
    for s in models:
        p_model[s.command] = max(s.score, p_model.get(s.command, 0.0))
    rest = max(0.0, 1.0 - sum(p_model.values()))
    shared = max(1e-9, 1.0 - sum(p_hist.get(c, 0.0) for c in p_model))
    w = min(1.0, model_weight)
    scored = []
    for c in {**p_hist, **p_model}:
        ph = p_hist.get(c, 0.0)
        pm = p_model[c] if c in p_model else rest * min(1.0, ph / shared)
        scored.append((w * pm + (1 - w) * ph, c in p_model, c))
    scored.sort(key=lambda x: (-x[0], not x[1], x[2]))
    return [Suggestion(c, s, "model" if m else "history") for s, m, c in scored[:k]]


def next_word(typed: str, suggestion: str) -> str:
    """What forward-word accepts of ``suggestion`` after ``typed`` (the shell's Alt-F /
    Ctrl-Right on the ghost text, and ``delta eval``'s word acceptance): the spaces, then
    one word, ending after a ``/`` so a path is taken one directory at a time."""
    rest = suggestion[len(typed) :] if suggestion.startswith(typed) else ""
    i = len(rest) - len(rest.lstrip(" "))
    while i < len(rest) and rest[i] != " ":
        i += 1
        if rest[i - 1] == "/":
            break
    return rest[:i]


class CompletionMemo:
    """The last model completion, reused while what is typed still runs along it."""

    def __init__(self) -> None:
        self.context: object = None
        self.typed = ""
        self.result: tuple[str, float] | None = None

    def get(self, context: object, typed: str) -> tuple[bool, tuple[str, float] | None]:
        """``(hit, completion)``: a hit when the memo answers for ``typed`` in ``context``."""
        if context != self.context or not typed.startswith(self.typed):
            return False, None
        if self.result is None:
            # nothing fit a shorter prefix; a longer one may still fit when a word ended
            return (" " not in typed[len(self.typed) :]), None
        text, p = self.result
        if text.startswith(typed) and text != typed:
            return True, (text, p)
        return False, None

    def put(self, context: object, typed: str, result: tuple[str, float] | None) -> None:
        self.context, self.typed, self.result = context, typed, result
