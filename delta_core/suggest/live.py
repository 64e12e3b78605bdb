"""The suggest engine of a running shell: every suggester plugin, merged, within a budget.

Suggesters registered through ``delta_register_suggesters`` get ``attach(ctx)`` (when they
have it) before the first request and ``observe(record)`` after each command. History
answers in the caller's thread; the model runs in one worker thread and is waited for at
most ``model_budget_s``: when it is slower (or not loaded), history alone is shown, and the
completion it was computing is remembered for the next keystroke.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

from delta_core import log
from delta_core.plugin.protocols import Suggestion, SuggestQuery
from delta_core.suggest.engine import MODEL_WEIGHT, combine

MODEL_BUDGET_S = 0.05


class SuggestEngine:
    def __init__(self, ctx: Any, model_budget_s: float = MODEL_BUDGET_S) -> None:
        self.ctx = ctx
        self.budget = model_budget_s
        self.suggesters: dict[str, Any] = dict(ctx.components.suggesters)
        self.problems: dict[str, str] = {}  # suggesters switched off, and why
        for name, s in list(self.suggesters.items()):
            try:
                if hasattr(s, "attach"):
                    s.attach(ctx)
                if hasattr(s, "refresh"):
                    s.refresh()  # a model starts loading now, in its own thread
            except Exception as exc:
                # A broken memory is already reported (once) by the recorder; do not say it twice.
                self.problems[name] = str(exc)
                del self.suggesters[name]
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="delta-model")
        self._pending: cf.Future | None = None

    def observe(self, rec: Any) -> None:
        for s in self.suggesters.values():
            if hasattr(s, "observe"):
                try:
                    s.observe(rec)
                except Exception as exc:
                    log.problem(f"suggester {s.name}: {exc}", self.ctx.layout.log_file)

    def _model(self, query: SuggestQuery) -> Suggestion | None:
        model = self.suggesters.get("model")
        if model is None:
            return None
        if self._pending is not None and not self._pending.done():
            return None  # the previous keystroke's completion is still running: do not queue
        self._pending = self._pool.submit(model.suggest, query)
        try:
            got = self._pending.result(timeout=self.budget)
        except cf.TimeoutError:
            return None
        except Exception as exc:
            log.problem(f"model suggester: {exc}", self.ctx.layout.log_file)
            return None
        return got[0] if got else None

    def suggest(self, query: SuggestQuery) -> list[Suggestion]:
        """The top ``query.limit`` suggestions; never raises."""
        history: list[Suggestion] = []
        extra: list[Suggestion] = []
        for name, s in self.suggesters.items():
            if name == "model":
                continue
            try:
                got = list(s.suggest(query))
            except Exception as exc:
                log.problem(f"suggester {name}: {exc}", self.ctx.layout.log_file)
                continue
            (history if name == "history" else extra).extend(got)
        completion = self._model(query)
        # read after the answer: a served model's version (hence its weight) comes with it
        weight = getattr(self.suggesters.get("model"), "model_weight", MODEL_WEIGHT)
        merged = combine(history, completion, query.limit + len(extra), weight)
        merged += sorted(extra, key=lambda s: -s.score)
        seen: set[str] = set()
        out = [s for s in merged if not (s.command in seen or seen.add(s.command))]
        return out[: query.limit]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
