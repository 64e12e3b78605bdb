"""The Delta context: configuration, plugins and store of one Delta root, loaded lazily.

The CLI, the recorder and the xontrib all start from a :class:`DeltaContext`, so they see the
same settings and the same components.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from delta_core.config import Config, ConfigError
from delta_core.memory.privacy import configure_filters
from delta_core.memory.store import Store
from delta_core.plugin.manager import Components, make_plugin_manager


class DeltaContext:
    """Everything Delta knows about one root; each part is built on first use."""

    def __init__(self, root: Path | str | None = None, env: dict[str, str] | None = None):
        self.env = dict(os.environ if env is None else env)
        self.config = Config.load(Path(root) if root is not None else None, self.env)

    @property
    def layout(self):
        return self.config.layout

    @cached_property
    def plugin_manager(self):
        return make_plugin_manager(self.env)

    @cached_property
    def components(self) -> Components:
        cfg = self.config
        components = Components.from_manager(
            self.plugin_manager,
            disabled={
                "collectors": cfg["collectors.disabled"],
                "filters": cfg["filters.disabled"],
            },
        )
        for section, (unknown, known) in components.unknown_disabled.items():
            raise ConfigError(
                f"{section}.disabled names {', '.join(map(repr, unknown))}, which no plugin "
                f"provides; known: {', '.join(known) or 'none'}"
            )
        # Filters read their settings once, here (a bad regex fails now, in one line).
        configure_filters(components.privacy_filters.values(), cfg)
        return components

    @property
    def filters(self) -> list:
        return list(self.components.privacy_filters.values())

    @cached_property
    def store(self) -> Store:
        return Store(self.config.root, map_size_mb=self.config["memory.map_size_mb"])

    def recording(self) -> bool:
        """Whether commands are being recorded (config, and `delta memory off`)."""
        return self.config["memory.record"] and not self.layout.paused_flag.exists()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
