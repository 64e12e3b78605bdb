"""The shell-aware pre-tokenizer: a command line cut into the units a subword model may not cross.

A unit is an operator (``&&``, ``|``, ``2>&1``, ``$(``, a backtick …), a quote character, an
escape (``\\x``), a variable (``$HOME``), a flag (``-x``, ``--long``, ``--key=``), an
assignment (``NAME=``), a URL, a path, a number, a word, whitespace or any other single
character. The subword model is trained on units and encodes unit by unit, so no token ever
spans ``"fix`` or ``x&&`` and the vocabulary is spent on things a person types.

Two rules make the cut cheap enough for the encode path (see :mod:`delta_core.tokenizer.shell`):

- The line is first split on the space character. Each space is glued to the front of the
  unit after it (the subword model then learns ``▁push``, the way sentencepiece marks word
  starts), and no unit contains a space otherwise, so a command's units are the
  concatenation of its words' units and a word can be cached.
- Units are recognised by a context-free regular expression (a quote does not change how
  what follows it is cut), so malformed input (unbalanced quotes, control characters, a
  100 KB line) is cut like any other text and nothing ever raises.

``"".join(units(text)) == text`` for every string: no character is lost or changed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: Bump when the cut changes: a tokenizer records the version it was trained with.
PRETOKENIZER_VERSION = "shell-units-v1"

# Characters a word, path or URL may hold; the rest are operators, quotes or "other".
_WORDCH = r"[\w.~+@%,:-]"

_UNIT_RE = re.compile(
    rf"""
    (?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^\s'"`|&;<>()\\$]*)
  | (?P<operator>
        \d?>&\d*-? | &>>? | \d?>> | \d?>\|? | <<<  | <<-? | <[(&>]? | \|& | \|\| | \|
      | && | & | ;;&? | ;& | ; | \$\(\( | \$\( | \$\{{ | \(\( | \)\)
      | \{{\{{ | \}}\}} | \{{\}} | [(){{}}] | `
    )
  | (?P<quote>\$?['"])
  | (?P<escape>\\.?)
  | (?P<variable>\$(?:[A-Za-z_]\w*|[0-9?#@*!$-])?)
  | (?P<flag>--?[A-Za-z0-9][\w.-]*=? | --)
  | (?P<assign>[A-Za-z_]\w*=)
  | (?P<path>{_WORDCH}*/[\w./~+@%,:-]*)
  | (?P<number>\d+(?:\.\d+)*(?!{_WORDCH}))
  | (?P<word>{_WORDCH}+)
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# The same expression without group names: ``findall`` then returns plain strings, in C.
_PLAIN_RE = re.compile(re.sub(r"\(\?P<\w+>", "(?:", _UNIT_RE.pattern), re.VERBOSE | re.DOTALL)

KINDS = (
    "url",
    "operator",
    "quote",
    "escape",
    "variable",
    "flag",
    "assign",
    "path",
    "number",
    "word",
    "space",
    "other",
)

#: Operators and quotes the subword model must always keep whole, bare and after a space.
#: (Learned pieces never cross a unit; these are also never split *inside*.)
ATOMIC_UNITS = (
    "2>&1",
    ">&2",
    "&>",
    ">>",
    "2>",
    ">",
    "<<<",
    "<<",
    "<",
    "||",
    "|",
    "&&",
    "&",
    ";",
    "$(",
    "${",
    "(",
    ")",
    "`",
    '"',
    "'",
)


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a command line: its text (a leading space included) and what it is."""

    text: str
    kind: str


def word_units(word: str, lead: bool) -> list[str]:
    """The units of one space-free ``word``; ``lead``: a space preceded it and is glued on."""
    if not word:
        return [" "] if lead else []
    found = _PLAIN_RE.findall(word)
    if lead:
        found[0] = " " + found[0]
    return found


def pretokenize(text: str) -> list[str]:
    """The units of a command line, as strings; they join back to ``text`` exactly."""
    out: list[str] = []
    for i, word in enumerate(text.split(" ")):
        out.extend(word_units(word, i > 0))
    return out


def units(text: str) -> list[Unit]:
    """The units of a command line with their kinds (for display and statistics)."""
    out: list[Unit] = []
    for i, word in enumerate(text.split(" ")):
        if not word:
            if i > 0:
                out.append(Unit(" ", "space"))
            continue
        for j, m in enumerate(_UNIT_RE.finditer(word)):
            piece = m.group()
            out.append(Unit(" " + piece if (i > 0 and j == 0) else piece, m.lastgroup or "other"))
    return out


def _trainable(unit: str, max_chars: int) -> bool:
    # Control characters and very long blobs are left to byte fallback: they would only
    # waste vocabulary, and tabs/newlines would break sentencepiece's "text<TAB>count" input.
    return len(unit) <= max_chars and unit.isprintable()


def unit_counts(texts: Iterable[str], *, max_chars: int = 64) -> Counter[str]:
    """How often each unit occurs in ``texts``, as the tokenizer encodes them.

    The tokenizer encodes a command as ``" " + command`` (so a command name is the same token
    at the start of a line and after ``|``), hence every word here has its leading space.
    Words are cut once and counted, so this is fast on a real history (which repeats itself).
    """
    words: Counter[str] = Counter()
    for text in texts:
        if text:
            words.update(text.split(" "))
    counts: Counter[str] = Counter()
    blobs: Counter[str] = Counter()
    for word, n in words.items():
        for u in word_units(word, True):
            if _trainable(u, max_chars):
                counts[u] += n
            elif u.isprintable():
                blobs[u] += n
    if not counts:
        # Nothing but blobs (a history of pasted keys or encrypted lines): learn from their
        # pieces, so such a history still gets a tokenizer instead of an error.
        for u, n in blobs.items():
            for i in range(0, len(u), max_chars):
                counts[u[i : i + max_chars]] += n
    return counts


def sorted_counts(counts: Counter[str]) -> Iterator[tuple[str, int]]:
    """Units most frequent first, ties by text: a fixed order, so training is reproducible."""
    return iter(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
