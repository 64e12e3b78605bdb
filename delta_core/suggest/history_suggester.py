"""The ``history`` suggester: the memory's commands ranked by context (prefix scans in the index).

It reads the index environment in one short read transaction per request, and takes this
shell's most recent commands from the engine's ring, so a keystroke costs a few cursor walks.
The built-in plugin ``suggest_history`` registers it.
"""

from __future__ import annotations

import threading
import time
from itertools import islice
from typing import Any

import lmdb

from delta_core import log
from delta_core.memory.lmdb_env import read_txn
from delta_core.plugin.protocols import (
    BaseSuggester,
    RecentCommands,
    SuggesterRole,
    Suggestion,
    SuggestQuery,
)
from delta_core.records.record import Record
from delta_core.suggest.habits import SEED_RECORDS, Habits
from delta_core.suggest.history import IndexHistory
from delta_core.suggest.rank import rank_history, screen_failing


class HistorySuggester(BaseSuggester):
    name = "history"
    role: SuggesterRole = "history"

    def __init__(self) -> None:
        self.view: IndexHistory | None = None
        self.store: Any = None
        self._seeded = threading.Event()
        self._seed_until = 0  # records started before this are the seed's
        self._pending: list[Record] = []  # observed while the seed was being read
        self._seed_lock = threading.Lock()

    def attach(self, ctx: Any, recent: RecentCommands) -> None:
        """Bind to a Delta context's store (done by the engine before the first request).

        Nothing is read on the caller's thread: recency comes from the index's last-use
        times and from the commands this shell reports. The recent habits
        (:mod:`delta_core.suggest.habits`) are read from the store's newest records in a
        background thread; until they are in, ranking goes without them, and a damaged
        shard costs suggestions nothing but those habits.
        """
        self.store = ctx.store
        self.view = IndexHistory(self.store.index, recent)
        self._seeded.clear()
        self._seed_until = time.time_ns()
        log_file = getattr(getattr(ctx, "layout", None), "log_file", None)
        threading.Thread(
            target=self._seed, args=(self.view, log_file), name="delta-habits", daemon=True
        ).start()

    def _seed(self, view: IndexHistory, log_file: Any) -> None:
        habits = Habits()
        try:
            newest = self.store.iter_records(until_ns=self._seed_until - 1, reverse=True)
            records = list(islice(newest, SEED_RECORDS))
            habits.add_all((r.command, r.session) for r in reversed(records))
        except Exception as exc:  # never the shell's problem: history ranks without habits
            log.to_log(f"recent habits not read: {log.plain(exc)}", log_file)
        with self._seed_lock:
            for rec in self._pending:
                habits.add(rec.command, rec.session)
            self._pending.clear()
            view.habits = habits
        self._seeded.set()

    def wait_seeded(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the recent habits (a one-shot caller such as
        ``delta suggest``); whether they are in."""
        return self._seeded.wait(timeout)

    def observe(self, rec: Record) -> None:
        view = self.view
        if view is None:
            return
        view.set_now(rec.start_ns)
        if rec.start_ns < self._seed_until:
            return  # in the store before this shell attached: the seed reads it
        with self._seed_lock:
            if view.habits is None:
                self._pending.append(rec)
            else:
                view.habits.add(rec.command, rec.session)

    def suggest(self, query: SuggestQuery) -> list[Suggestion]:
        if self.view is None:
            return []
        for attempt in range(2):
            index = self.store.index
            if index is None:  # closed by another thread meanwhile: nothing this time
                return []
            try:
                with read_txn(index.env) as txn:
                    self.view.index = index
                    self.view.txn = txn
                    try:
                        return rank_history(self.view, query)
                    finally:
                        self.view.txn = None
            except lmdb.Error:
                # Another process swapped the index files and the shell's recorder, writing
                # meanwhile, closed the environment this thread was reading: read the new one.
                if attempt or self.store.index is index:
                    raise
        return []

    def screen(self, suggestions: list[Suggestion], prefix: str) -> list[Suggestion]:
        """Any suggestions (the model's too) without commands that always failed: the fix
        the memory learned for one takes its place (:func:`~delta_core.suggest.rank.screen_failing`)."""
        if self.view is None or not suggestions:
            return suggestions
        index = self.store.index
        with read_txn(index.env) as txn:
            self.view.index = index
            self.view.txn = txn
            try:
                return screen_failing(self.view, suggestions, prefix)
            finally:
                self.view.txn = None
