"""The ``ignorespace`` privacy filter: a command typed with a leading space is not recorded.

The same convention as bash's ``HISTCONTROL=ignorespace`` and zsh's ``HIST_IGNORE_SPACE``, so
a user's habit of prefixing a sensitive command with a space keeps working under Delta.
"""

from __future__ import annotations

from delta_core.api import Finding, Verdict, hookimpl


class IgnoreSpaceFilter:
    """Drops commands that start with a space or a tab."""

    name = "ignorespace"

    def check(self, command: str, cwd: str) -> Verdict:
        if command[:1] in (" ", "\t"):
            return Verdict(
                "drop",
                "",
                (Finding(self.name, "leading-space", 0, 1, "the command starts with a space"),),
            )
        return Verdict("keep", command)


# Drop filters run first: they are cheap and see the command exactly as typed.
@hookimpl(tryfirst=True)
def delta_register_privacy_filters(register):
    register(IgnoreSpaceFilter())
