"""Word-by-word acceptance of the ghost text: Alt-F and Ctrl-Right, as in fish and
zsh-autosuggestions (their forward-word on an autosuggestion).

One key takes the suggestion's next word (:func:`delta_core.suggest.engine.next_word`, the
same rule ``delta eval`` counts in its word-acceptance savings); Right / End still take the
whole line. Without a suggestion on screen the keys do what they did (prompt_toolkit's
forward-word). Nothing here may break the shell.
"""

from __future__ import annotations

from typing import Any

from xontrib_delta.keys import bind_keys

#: The keys, as prompt_toolkit names them (``$DELTA_WORD_KEYS``, space-separated groups
#: joined by commas: ``"escape f,c-right"``).
DEFAULT_KEYS = "escape f,c-right"


def accept_word(buffer: Any) -> bool:
    """Insert the next word of ``buffer``'s suggestion; False when there is none to take."""
    from delta_core.suggest.engine import next_word

    suggestion = buffer.suggestion
    if suggestion is None or not suggestion.text or not buffer.document.is_cursor_at_the_end:
        return False
    typed = buffer.text
    word = next_word(typed, typed + suggestion.text)
    if not word:
        return False
    buffer.insert_text(word)
    return True


def _handler(event: Any) -> None:
    buffer = event.current_buffer
    try:
        if accept_word(buffer):
            return
    except Exception as exc:  # the shell must never break
        from delta_core import log

        log.problem(f"word acceptance: {exc}")
    # no suggestion: the key's usual job (move to the end of the next word)
    buffer.cursor_position += buffer.document.find_next_word_ending(count=event.arg) or 0


def install(xsh: Any, keys: str = DEFAULT_KEYS):
    """Bind ``keys`` in xonsh's prompt; returns the undo function."""
    return bind_keys(xsh, [tuple(group.split()) for group in keys.split(",")], _handler)
