"""The ``history`` suggester: the memory's commands ranked by context (prefix scans in the index).

It reads the index environment in one short read transaction per request, and keeps the
commands this shell reports through ``observe`` in memory as the most recent ones, so a
keystroke costs a few cursor walks.
"""

from __future__ import annotations

from typing import Any

from delta_core.memory.lmdb_env import read_txn
from delta_core.plugin.hookspecs import hookimpl
from delta_core.plugin.protocols import Suggestion, SuggestQuery
from delta_core.suggest.history import IndexHistory
from delta_core.suggest.rank import rank_history


class HistorySuggester:
    name = "history"

    def __init__(self) -> None:
        self.view: IndexHistory | None = None
        self.store: Any = None

    def attach(self, ctx: Any) -> None:
        """Bind to a Delta context's store (done by the engine before the first request).

        Nothing is read now: recency comes from the index's last-use times and from the
        commands this shell reports, so a damaged shard costs suggestions nothing.
        """
        self.store = ctx.store
        self.view = IndexHistory(self.store.index)

    def observe(self, rec: Any) -> None:
        if self.view is not None:
            self.view.observe(rec.command)
            self.view.set_now(rec.start_ns)

    def suggest(self, query: SuggestQuery) -> list[Suggestion]:
        if self.view is None:
            return []
        index = self.store.index
        with read_txn(index.env) as txn:
            self.view.index = index
            self.view.txn = txn
            try:
                return rank_history(self.view, query)
            finally:
                self.view.txn = None


@hookimpl
def delta_register_suggesters(register):
    register(HistorySuggester())
