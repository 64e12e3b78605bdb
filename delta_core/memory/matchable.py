"""What of a remembered command a search may match: not Delta's own commands, not placeholders.

A search box that finds ``delta search "initialize a repository"`` for *initialize a
repository*, or a one-off ``curl … <redacted:github-token>`` for *git* (the placeholder's own
text), answers with the search's own traces. Both searches (``delta memory search`` and
``delta search``) use these two rules: commands that run Delta itself never count as
matches, and a redaction placeholder is blanked out of the text that is matched.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"<redacted:[^<>\s]*>")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
#: The first word of a command that runs Delta (its CLI and its xonsh aliases).
OWN_PROGRAMS = frozenset({"delta", "delta-train", ":memory", ":tokenizer", ":search"})


def match_text(command: str) -> str:
    """``command`` with each ``<redacted:…>`` placeholder replaced by a space."""
    return PLACEHOLDER.sub(" ", command) if "<redacted:" in command else command


def is_own_command(command: str) -> bool:
    """Whether ``command`` runs Delta itself (``delta …``, ``:memory …``, ``X=1 delta …``)."""
    for word in command.split():
        if _ASSIGN.match(word):
            continue
        return word.rsplit("/", 1)[-1] in OWN_PROGRAMS
    return False
