"""The prompt_toolkit auto-suggester that shows Delta's best completion as ghost text.

It runs inside prompt_toolkit's ``ThreadedAutoSuggest`` (off the event loop), asks the
suggest engine for the top completion of the text before the cursor, and otherwise defers
to the suggester xonsh would have used (its history), so switching Delta off or Delta not
being ready changes nothing for the user.
"""

from __future__ import annotations

from typing import Any

from prompt_toolkit.auto_suggest import AutoSuggest, Suggestion

from delta_core import log


class DeltaAutoSuggest(AutoSuggest):
    def __init__(self, owner: Any, fallback: AutoSuggest) -> None:
        self.owner = owner
        self.fallback = fallback

    def get_suggestion(self, buffer: Any, document: Any) -> Suggestion | None:
        text = document.text
        if text and "\n" not in text and document.is_cursor_at_the_end:
            try:
                found = self.owner.query(text, limit=1)
            except Exception as exc:  # never let a suggestion break typing
                log.problem(f"suggestion failed: {exc}")
                found = []
            if found and found[0].command.startswith(text) and found[0].command != text:
                self.owner.shown(found[0].command, text, found[0].source)
                return Suggestion(found[0].command[len(text) :])
        return self.fallback.get_suggestion(buffer, document)
