"""Collectors ``tmux`` and ``ssh``: markers for where the shell is running.

Commands typed inside tmux or over SSH differ from those typed at a local terminal, so these
markers are context for suggestions. They read environment variables only (no ``tmux``
subprocess): ``$TMUX``/``$TMUX_PANE`` and ``$SSH_CONNECTION``/``$SSH_CLIENT``/``$SSH_TTY``.

Fields: ``tmux`` = ``"1"`` inside tmux, ``ssh`` = ``"1"`` in an SSH session. The client's
address is deliberately not recorded: a marker is all a suggestion needs.
"""

from __future__ import annotations

from collections.abc import Mapping

from delta_core.api import hookimpl


class TmuxCollector:
    """Marks commands run inside tmux."""

    name = "tmux"

    def collect(self, cwd: str, env: Mapping[str, str]) -> Mapping[str, str]:
        return {"tmux": "1"} if env.get("TMUX") or env.get("TMUX_PANE") else {}


class SshCollector:
    """Marks commands run in an SSH session."""

    name = "ssh"

    def collect(self, cwd: str, env: Mapping[str, str]) -> Mapping[str, str]:
        if env.get("SSH_CONNECTION") or env.get("SSH_CLIENT") or env.get("SSH_TTY"):
            return {"ssh": "1"}
        return {}


@hookimpl
def delta_register_collectors(register):
    register(TmuxCollector())
    register(SshCollector())
