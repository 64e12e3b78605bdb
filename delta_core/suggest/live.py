"""The suggest engine of a running shell: every suggester plugin, merged, within a budget.

Suggesters are registered through ``delta_register_suggesters`` and declare their role
(:data:`~delta_core.plugin.protocols.SuggesterRole`); the engine calls the methods of
:class:`~delta_core.plugin.protocols.Suggester` on each, never probing for them:

- ``history`` suggesters answer in the caller's thread (a few index scans);
- the ``model`` suggester runs in one worker thread and is waited for at most ``budget_s``;
  when it is slower (or not loaded) history alone is shown, and the completion it was
  computing is remembered for the next keystroke; its completions are mixed with history at
  its weight (:func:`delta_core.suggest.engine.combine`);
- ``extra`` suggesters (third parties) run in worker threads within the same budget and are
  merged with the rest by score, so one whose candidate scores best is the ghost text.

What is typed reaches only the ``history`` suggesters until the privacy filters pass it: a
prefix that a filter would redact or drop (a token being pasted) is never handed to the model,
``delta serve`` or a third party. The engine owns the session's one ring of recent commands
(:class:`~delta_core.plugin.protocols.RecentCommands`): :meth:`SuggestEngine.observe` appends
the record the recorder stored, and every suggester and every query reads that ring.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

from delta_core import log
from delta_core.memory.privacy import apply_filters
from delta_core.plugin.protocols import RecentCommands, Suggester, Suggestion, SuggestQuery
from delta_core.records.record import Record
from delta_core.suggest.engine import combine
from delta_core.suggest.rank import QUERY_PREVIOUS

MODEL_BUDGET_S = 0.05


def _fault(suggester: Any) -> str | None:
    """The kind of fault a suggester's failure is (history reads the store: ``memory``), so
    that one broken index met by several parts of the shell is reported once."""
    return "memory" if getattr(suggester, "role", "") == "history" else None


class SuggestEngine:
    def __init__(self, ctx: Any, model_budget_s: float = MODEL_BUDGET_S) -> None:
        self.ctx = ctx
        self.budget = model_budget_s
        self.recent = RecentCommands()
        self.suggesters: dict[str, Suggester] = {}
        self.problems: dict[str, str] = {}  # suggesters switched off, and why
        for name, s in dict(ctx.components.suggesters).items():
            if not isinstance(s, Suggester) or getattr(s, "role", None) not in (
                "history",
                "model",
                "extra",
            ):
                self.problems[name] = (
                    "it does not implement the Suggester protocol (subclass BaseSuggester)"
                )
                log.problem(f"suggester {name} is off: {self.problems[name]}", self._log_file)
                continue
            try:
                s.attach(ctx, self.recent)
                s.refresh()  # a model starts loading now, in its own thread
            except Exception as exc:
                # A broken memory is already reported (once) by the recorder; do not say it twice.
                self.problems[name] = str(exc)
                continue
            self.suggesters[name] = s
        self._history = [s for s in self.suggesters.values() if s.role == "history"]
        self._model = next((s for s in self.suggesters.values() if s.role == "model"), None)
        self._extras = [s for s in self.suggesters.values() if s.role == "extra"]
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="delta-model")
        self._pending: cf.Future | None = None
        self._extra_pool = (
            cf.ThreadPoolExecutor(max_workers=len(self._extras), thread_name_prefix="delta-extra")
            if self._extras
            else None
        )
        self._extra_pending: dict[str, cf.Future] = {}

    @property
    def _log_file(self) -> Any:
        layout = getattr(self.ctx, "layout", None)
        return getattr(layout, "log_file", None)

    def observe(self, rec: Record) -> None:
        """A command was stored (as stored: filtered, redacted): into the ring, then tell all."""
        self.recent.append(rec)
        for s in self.suggesters.values():
            try:
                s.observe(rec)
            except Exception as exc:
                log.problem(f"suggester {s.name}: {exc}", self._log_file, fault=_fault(s))

    def query(self, prefix: str, cwd: str, limit: int = 1, session: str = "") -> SuggestQuery:
        """The query for what is typed now, with the ring's last commands as context."""
        return SuggestQuery(prefix, cwd, self.recent.commands(QUERY_PREVIOUS), session, limit)

    def _run_model(self, query: SuggestQuery) -> Suggestion | None:
        model = self._model
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
            log.problem(f"model suggester: {exc}", self._log_file)
            return None
        return got[0] if got else None

    def _start_extras(self, query: SuggestQuery) -> dict[str, cf.Future]:
        started: dict[str, cf.Future] = {}
        if self._extra_pool is None:
            return started
        for s in self._extras:
            busy = self._extra_pending.get(s.name)
            if busy is not None and not busy.done():
                continue  # still on an earlier keystroke: skip it this time, never queue
            started[s.name] = self._extra_pending[s.name] = self._extra_pool.submit(
                s.suggest, query
            )
        return started

    def _collect_extras(self, started: dict[str, cf.Future]) -> list[Suggestion]:
        out: list[Suggestion] = []
        if not started:
            return out
        done, _ = cf.wait(list(started.values()), timeout=self.budget)
        for name, fut in started.items():
            if fut not in done:
                continue  # late: not shown for this keystroke
            try:
                out.extend(fut.result())
            except Exception as exc:
                log.problem(f"suggester {name}: {exc}", self._log_file)
        return out

    def _private(self, query: SuggestQuery) -> bool:
        """Whether what is typed holds something a privacy filter would not store."""
        if not query.prefix:
            return False
        try:
            filters = self.ctx.filters
            return apply_filters(filters, query.prefix, query.cwd).action != "keep"
        except Exception:
            return True  # cannot tell: keep it in this process

    def suggest(self, query: SuggestQuery) -> list[Suggestion]:
        """The top ``query.limit`` suggestions; never raises."""
        if self._private(query):
            return self._history_only(query, cap=query.limit)
        started = self._start_extras(query)
        history = self._history_only(query, cap=None)
        completion = self._run_model(query)
        extra = self._collect_extras(started)
        weight = 0.0
        if completion is not None and self._model is not None:
            try:
                # read after the answer: a served model's version (hence its weight) comes with it
                weight = self._model.weight(query.prefix)
            except Exception as exc:
                log.problem(f"suggester {self._model.name}: {exc}", self._log_file)
        merged = combine(history, completion, query.limit + len(extra), weight)
        if completion is not None:  # the model may offer a command that always failed
            merged = self._screen(merged, query.prefix)
        if extra:
            # scores are probabilities on every side: the best candidate wins, whoever made it
            merged = sorted([*merged, *extra], key=lambda s: -s.score)
        out: list[Suggestion] = []
        seen: set[str] = set()
        for s in merged:
            if s.command not in seen:
                seen.add(s.command)
                out.append(s)
        return out[: query.limit]

    def _screen(self, merged: list[Suggestion], prefix: str) -> list[Suggestion]:
        """``merged`` without commands that always failed (their learned fix instead)."""
        for s in self._history:
            screen = getattr(s, "screen", None)
            if screen is None:
                continue
            try:
                merged = screen(merged, prefix)
            except Exception as exc:
                log.problem(f"suggester {s.name}: {exc}", self._log_file)
        return merged

    def _history_only(self, query: SuggestQuery, cap: int | None) -> list[Suggestion]:
        out: list[Suggestion] = []
        for s in self._history:
            try:
                out.extend(s.suggest(query))
            except Exception as exc:
                log.problem(f"suggester {s.name}: {exc}", self._log_file, fault="memory")
        return out if cap is None else out[:cap]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._extra_pool is not None:
            self._extra_pool.shutdown(wait=False, cancel_futures=True)
