"""Built-in plugin ``suggest_history``: registers the history suggester (the memory's commands
ranked by context; :class:`delta_core.suggest.history_suggester.HistorySuggester`)."""

from __future__ import annotations

from delta_core.api import HistorySuggester, hookimpl


@hookimpl
def delta_register_suggesters(register):
    register(HistorySuggester())
