"""The suggest engine: history candidates and model completions merged into the top k.

The shell and ``delta eval`` both go through :func:`combine`, so what is measured is what is
shown. A model completion leads when the model is confident enough (its probability at
least :data:`MODEL_LEAD`) or history has nothing; otherwise the best history candidate
leads and the completion comes second. :class:`CompletionMemo` keeps a completion while
the user keeps typing along it: greedy decoding constrained to a longer prefix of the same
text would pick the same tokens, so the keystroke costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from delta_core.components import Suggestion

#: Model probability from which its completion is shown before history's best.
MODEL_LEAD = 0.2


def combine(
    history: Sequence[Suggestion], model: Suggestion | None, k: int, lead: float = MODEL_LEAD
) -> list[Suggestion]:
    """History candidates (best first) and at most one model completion, as the top ``k``."""
    out: list[Suggestion] = []
    if model is not None and (model.score >= lead or not history):
        out.append(model)
        rest = list(history)
    elif model is not None:
        out.append(history[0])
        out.append(model)
        rest = list(history[1:])
    else:
        rest = list(history)
    seen = {s.command for s in out}
    for s in rest:
        if s.command not in seen:
            out.append(s)
            seen.add(s.command)
    return out[:k]


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
