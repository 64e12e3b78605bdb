"""The ``xonsh_ignore`` privacy filter: honours ``$XONSH_HISTORY_IGNORE_REGEX``.

Same meaning as in xonsh's own history: a command the regex matches *from its start*
(``re.match``) is not recorded. The variable is read at every check from the xonsh session's
environment (a user may change it in the running shell) when it is set there, else from the
process environment as it was when the filter was made; the compiled regex is cached by its text. Like xonsh, an invalid regex is
ignored, but the finding says so (``delta memory explain`` shows it).
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from typing import Any

from delta_core.api import Finding, Verdict, hookimpl

VARIABLE = "XONSH_HISTORY_IGNORE_REGEX"


def _session_value() -> Any:
    """The variable in the running xonsh session, if there is one (no exceptions: hot path)."""
    env = getattr(builtins.__dict__.get("__xonsh__"), "env", None)
    return env.get(VARIABLE) if env is not None else None


class XonshIgnoreFilter:
    """Drops commands matched by ``$XONSH_HISTORY_IGNORE_REGEX``."""

    name = "xonsh_ignore"

    def __init__(self, env: Mapping[str, Any] | None = None) -> None:
        self._env = env
        # Outside xonsh the process environment cannot change under us: read it once.
        self._process_value = os.environ.get(VARIABLE)
        self._cache: tuple[str, re.Pattern[str] | str] | None = None

    def _regex(self) -> re.Pattern[str] | str | None:
        if self._env is not None:
            value = self._env.get(VARIABLE)
        else:
            value = _session_value() or self._process_value
        if not value:
            return None
        if isinstance(value, re.Pattern):  # xonsh may hold it compiled
            return value
        value = str(value)
        if self._cache is None or self._cache[0] != value:
            try:
                compiled: re.Pattern[str] | str = re.compile(value)
            except re.error as exc:
                compiled = f"${VARIABLE} is not a valid regular expression ({exc}); ignored"
            self._cache = (value, compiled)
        return self._cache[1]

    def check(self, command: str, cwd: str) -> Verdict:
        rx = self._regex()
        if rx is None:
            return Verdict("keep", command)
        if isinstance(rx, str):
            return Verdict("keep", command, (Finding(self.name, "invalid-regex", detail=rx),))
        m = rx.match(command)
        if m is None:
            return Verdict("keep", command)
        return Verdict("drop", "", (Finding(self.name, VARIABLE, 0, m.end(), rx.pattern),))


# Drop filters run first: they are cheap and see the command exactly as typed.
@hookimpl(tryfirst=True)
def delta_register_privacy_filters(register):
    register(XonshIgnoreFilter())
