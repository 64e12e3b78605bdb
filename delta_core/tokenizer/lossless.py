"""Reversible escaping of the few characters a subword model cannot carry through unchanged.

Two kinds of character would break ``decode(encode(x)) == x``:

- ``▁`` (U+2581): sentencepiece writes a space as ``▁``, so a literal ``▁`` would come back
  as a space.
- Lone surrogates (U+D800–U+DFFF): a Python ``str`` may hold them (xonsh reads undecodable
  bytes with ``surrogateescape``), but they have no UTF-8 form, so no byte-level model can
  represent them.

Each is written as ``ESC`` (U+E000, a private-use character) followed by a code character:
``ESC _`` for ``▁``, ``ESC ESC`` for ``ESC`` itself, and ``ESC`` + a character of plane 15
(U+F0000 + offset) for a surrogate. The escaped text is valid Unicode without ``▁``; the
model sees these rare pairs as ordinary (byte-fallback) text. :func:`unescape` leaves any
other ``ESC`` pair alone, so text a model invents never makes it raise.
"""

from __future__ import annotations

import re

ESC = "\ue000"
_SPACE_MARK = "\u2581"
_SURROGATE_BASE = 0xF0000

_NEEDS_ESCAPE = re.compile("[\u2581\ue000\ud800-\udfff]")
_ESCAPED = re.compile("\ue000(.?)", re.DOTALL)


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    if c == _SPACE_MARK:
        return ESC + "_"
    if c == ESC:
        return ESC + ESC
    return ESC + chr(_SURROGATE_BASE + ord(c) - 0xD800)


def _unescape_pair(m: re.Match[str]) -> str:
    c = m.group(1)
    if c == "_":
        return _SPACE_MARK
    if c == ESC:
        return ESC
    if c and 0 <= ord(c) - _SURROGATE_BASE < 0x800:
        return chr(0xD800 + ord(c) - _SURROGATE_BASE)
    return m.group()


def needs_escape(text: str) -> bool:
    """Whether ``text`` holds a character that must be escaped (cheap for ASCII text)."""
    return not text.isascii() and _NEEDS_ESCAPE.search(text) is not None


def escape(text: str) -> str:
    """``text`` with ``▁``, ``ESC`` and lone surrogates written as ``ESC`` pairs."""
    if text.isascii():
        return text
    return _NEEDS_ESCAPE.sub(_escape_char, text)


def unescape(text: str) -> str:
    """The inverse of :func:`escape`; never raises, whatever ``text`` holds."""
    if ESC not in text:
        return text
    return _ESCAPED.sub(_unescape_pair, text)


def escape_batch(texts: list[str]) -> list[str]:
    """:func:`escape` over a batch; returns ``texts`` itself when nothing needs escaping.

    One check over the joined batch keeps the common all-ASCII case at C speed.
    """
    joined = "\n".join(texts)
    if joined.isascii() or _NEEDS_ESCAPE.search(joined) is None:
        return texts
    return [escape(t) for t in texts]
