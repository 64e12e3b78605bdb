"""The ``patterns`` privacy filter: the user's own regexes for commands and directories to skip.

``filters.ignore_commands`` are searched in the command, ``filters.ignore_cwds`` in the working
directory (Python ``re`` syntax, ``re.search``: anchor with ``^`` to match from the start).
A match drops the command. An invalid regex is a one-line :class:`ConfigError` naming it.
"""

from __future__ import annotations

import re

from delta_core.api import Config, ConfigError, Finding, Verdict, hookimpl


def compile_patterns(key: str, patterns: list[str]) -> list[re.Pattern[str]]:
    """Compile the regexes of setting ``key``; the first bad one fails in one line."""
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise ConfigError(f"{key}: invalid regular expression {p!r} ({exc})") from None
    return out


class PatternsFilter:
    """Drops commands (or commands run in directories) that match the user's regexes."""

    name = "patterns"

    def __init__(self) -> None:
        self._commands: list[re.Pattern[str]] | None = None
        self._cwds: list[re.Pattern[str]] = []

    def configure(self, config: Config) -> None:
        """Compile ``filters.ignore_commands`` and ``filters.ignore_cwds``; raise ConfigError."""
        commands = compile_patterns("filters.ignore_commands", config["filters.ignore_commands"])
        self._cwds = compile_patterns("filters.ignore_cwds", config["filters.ignore_cwds"])
        self._commands = commands

    def check(self, command: str, cwd: str) -> Verdict:
        if self._commands is None:  # used outside a DeltaContext: read the config once
            self.configure(Config.load())
        for rx in self._commands:
            m = rx.search(command)
            if m:
                f = Finding(self.name, "ignore_commands", m.start(), m.end(), rx.pattern)
                return Verdict("drop", "", (f,))
        for rx in self._cwds:
            if rx.search(cwd):
                return Verdict("drop", "", (Finding(self.name, "ignore_cwds", detail=rx.pattern),))
        return Verdict("keep", command)


# Drop filters run first: they are cheap and see the command exactly as typed.
@hookimpl(tryfirst=True)
def delta_register_privacy_filters(register):
    register(PatternsFilter())
