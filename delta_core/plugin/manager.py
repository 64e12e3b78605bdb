"""Building the plugin manager, and the registry of components it yields.

Built-in plugins are declared as entry points in group ``delta`` exactly like third-party ones,
and are also registered directly by module name so that Delta works from a source checkout
that was never installed.

Environment:

``DELTA_PLUGINS``
    Comma-separated names of the entry points to load. Unset: all of them. Empty: none
    (built-ins still load). Use it to start with only the plugins you trust, or in tests.
``DELTA_DISABLE_PLUGINS``
    Comma-separated plugin names (built-in or not) that must not be registered at all.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from delta_core.plugin import hookspecs

# name -> module: the built-in plugins, one module each (entry point names in pyproject match).
BUILTIN_PLUGINS: dict[str, str] = {
    "import_jsonl": "delta_plugins.import_jsonl",
    "tokenizer_sentencepiece": "delta_plugins.tokenizer_sentencepiece",
    "import_bash": "delta_plugins.import_bash",
    "import_zsh": "delta_plugins.import_zsh",
    "import_fish": "delta_plugins.import_fish",
    "import_xonsh_json": "delta_plugins.import_xonsh_json",
    "import_xonsh_sqlite": "delta_plugins.import_xonsh_sqlite",
    "import_atuin": "delta_plugins.import_atuin",
    "ignorespace": "delta_plugins.ignorespace",
    "xonsh_ignore": "delta_plugins.xonsh_ignore",
    "patterns": "delta_plugins.patterns",
    "secrets": "delta_plugins.secrets",
    "embed_minilm": "delta_plugins.embed_minilm",
    "embed_hashing": "delta_plugins.embed_hashing",
    "collect_git": "delta_plugins.collect_git",
    "collect_python_env": "delta_plugins.collect_python_env",
    "collect_terminal": "delta_plugins.collect_terminal",
    "trainer_local": "delta_plugins.trainer_local",
    "trainer_docker": "delta_plugins.trainer_docker",
    "suggest_history": "delta_plugins.suggest_history",
    "suggest_model": "delta_plugins.suggest_model",
}


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def make_plugin_manager(
    env: dict[str, str] | None = None,
    *,
    load_entry_points: bool = True,
    extra_plugins: Iterable[Any] = (),
) -> pluggy.PluginManager:
    """A new plugin manager with the built-ins, the allowed entry points and ``extra_plugins``.

    Each call returns an independent manager, so tests never share plugin state.
    """
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in _names(env.get("DELTA_DISABLE_PLUGINS")) or ():
        pm.set_blocked(name)
    for name, module in BUILTIN_PLUGINS.items():
        if pm.is_blocked(name) or pm.get_plugin(name) is not None:
            continue
        pm.register(importlib.import_module(module), name=name)
    if load_entry_points:
        allowed = _names(env.get("DELTA_PLUGINS"))
        for ep in entry_points(group=hookspecs.PROJECT):
            if allowed is not None and ep.name not in allowed:
                continue
            if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
                continue
            pm.register(ep.load(), name=ep.name)
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _collect(hook: Callable[..., Any], disabled: Iterable[str] = ()) -> dict[str, Any]:
    found: dict[str, Any] = {}
    hook(register=lambda component: found.setdefault(component.name, component))
    for name in disabled:
        found.pop(name, None)
    return found


@dataclass
class Components:
    """The components every plugin registered, by kind and name, in registration order."""

    collectors: dict[str, Any] = field(default_factory=dict)
    importers: dict[str, Any] = field(default_factory=dict)
    privacy_filters: dict[str, Any] = field(default_factory=dict)
    tokenizers: dict[str, Any] = field(default_factory=dict)
    trainers: dict[str, Any] = field(default_factory=dict)
    suggesters: dict[str, Any] = field(default_factory=dict)
    embedders: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_manager(
        cls, pm: pluggy.PluginManager, disabled: dict[str, Iterable[str]] | None = None
    ) -> Components:
        """Ask every plugin to register its components; drop the ones the user disabled."""
        disabled = disabled or {}
        h = pm.hook
        return cls(
            collectors=_collect(h.delta_register_collectors, disabled.get("collectors", ())),
            importers=_collect(h.delta_register_importers, disabled.get("importers", ())),
            privacy_filters=_collect(h.delta_register_privacy_filters, disabled.get("filters", ())),
            tokenizers=_collect(h.delta_register_tokenizers, disabled.get("tokenizers", ())),
            trainers=_collect(h.delta_register_trainers, disabled.get("trainers", ())),
            suggesters=_collect(h.delta_register_suggesters, disabled.get("suggesters", ())),
            embedders=_collect(h.delta_register_embedders, disabled.get("embedders", ())),
        )
