"""Built-in plugin ``suggest_model``: registers the model suggester (completions from the
promoted model, through ``delta serve``; :class:`delta_core.session.model_suggester.ModelSuggester`)."""

from __future__ import annotations

from delta_core.api import ModelSuggester, hookimpl


@hookimpl
def delta_register_suggesters(register):
    register(ModelSuggester())
