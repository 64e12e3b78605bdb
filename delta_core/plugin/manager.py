"""Building the plugin manager, and the registry of components it yields.

Built-in plugins are declared as entry points in group ``delta`` exactly like third-party ones
(``pyproject.toml`` is the only list of them, :func:`builtin_plugins`), and are registered
first, by module name, so that ``DELTA_PLUGINS`` (which limits third-party entry points) never
switches them off.

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
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any

import pluggy

from delta_core.plugin import hookspecs

#: The distribution whose entry points in group ``delta`` are the built-in plugins.
DISTRIBUTION = "xontrib-delta"
BUILTIN_PACKAGE = "delta_plugins"


def builtin_plugins() -> dict[str, str]:
    """name -> module of the built-in plugins, read from the one place that declares them.

    That place is ``[project.entry-points.delta]`` in ``pyproject.toml``: the installed
    distribution's metadata when Delta is installed (a wheel or an editable install), else the
    ``pyproject.toml`` beside the source tree, so a checkout that was never installed still
    loads them. Sorted by name, so the order does not depend on how they were found.
    """
    found: dict[str, str] = {}
    try:
        dist = distribution(DISTRIBUTION)
        for ep in dist.entry_points:
            if ep.group == hookspecs.PROJECT:
                found[ep.name] = ep.value
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            found = dict(data["project"]["entry-points"][hookspecs.PROJECT])
    return {
        name: module
        for name, module in sorted(found.items())
        if module.split(".")[0] == BUILTIN_PACKAGE
    }


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def make_plugin_manager(
    env: Mapping[str, str] | None = None,
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
    for name, module in builtin_plugins().items():
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


def _collect(
    hook: Callable[..., Any], disabled: Iterable[str] = (), unknown: list[str] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    hook(register=lambda component: found.setdefault(component.name, component))
    for name in disabled:
        if found.pop(name, None) is None and unknown is not None:
            unknown.append(name)
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
    #: kind -> (names the user disabled that no plugin registered, the names that exist)
    unknown_disabled: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    @classmethod
    def from_manager(
        cls, pm: pluggy.PluginManager, disabled: dict[str, Iterable[str]] | None = None
    ) -> Components:
        """Ask every plugin to register its components; drop the ones the user disabled."""
        disabled = disabled or {}
        h = pm.hook
        kinds = {
            "collectors": h.delta_register_collectors,
            "importers": h.delta_register_importers,
            "privacy_filters": h.delta_register_privacy_filters,
            "tokenizers": h.delta_register_tokenizers,
            "trainers": h.delta_register_trainers,
            "suggesters": h.delta_register_suggesters,
            "embedders": h.delta_register_embedders,
        }
        setting = {"privacy_filters": "filters"}  # the config section of each kind
        out: dict[str, Any] = {}
        unknown_disabled: dict[str, tuple[list[str], list[str]]] = {}
        for kind, hook in kinds.items():
            unknown: list[str] = []
            names = disabled.get(setting.get(kind, kind), ())
            out[kind] = _collect(hook, names, unknown)
            if unknown:
                unknown_disabled[setting.get(kind, kind)] = (unknown, sorted(out[kind]))
        return cls(**out, unknown_disabled=unknown_disabled)
