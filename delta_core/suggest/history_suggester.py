"""The ``history`` suggester: the memory's commands ranked by context (prefix scans in the index).

It reads the index environment in one short read transaction per request, and takes this
shell's most recent commands from the engine's ring, so a keystroke costs a few cursor walks.
The built-in plugin ``suggest_history`` registers it.
"""

from __future__ import annotations

from typing import Any

import lmdb

from delta_core.memory.lmdb_env import read_txn
from delta_core.plugin.protocols import (
    BaseSuggester,
    RecentCommands,
    SuggesterRole,
    Suggestion,
    SuggestQuery,
)
from delta_core.records.record import Record
from delta_core.suggest.history import IndexHistory
from delta_core.suggest.rank import rank_history, screen_failing


class HistorySuggester(BaseSuggester):
    name = "history"
    role: SuggesterRole = "history"

    def __init__(self) -> None:
        self.view: IndexHistory | None = None
        self.store: Any = None

    def attach(self, ctx: Any, recent: RecentCommands) -> None:
        """Bind to a Delta context's store (done by the engine before the first request).

        Nothing is read now: recency comes from the index's last-use times and from the
        commands this shell reports, so a damaged shard costs suggestions nothing.
        """
        self.store = ctx.store
        self.view = IndexHistory(self.store.index, recent)

    def observe(self, rec: Record) -> None:
        if self.view is not None:
            self.view.set_now(rec.start_ns)

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
