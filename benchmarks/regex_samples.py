"""Random strings that match a regular expression, to build labelled positives from a rule set.

gitleaks publishes regexes, not examples (its tests generate secrets at random), so the
recall benchmark does the same: walk the parsed regex (``re._parser``) and pick a random way
through it. Character classes draw from printable ASCII; unbounded repeats stay short; literals
keep the case they are written in even under ``(?i)`` (real prefixes are lower case).
"""

from __future__ import annotations

import random
import re
import string
from re import _constants as C
from re import _parser as P

_PRINTABLE = string.ascii_letters + string.digits + "-_+/=.:@%~"
_CATEGORY = {
    C.CATEGORY_DIGIT: string.digits,
    C.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    C.CATEGORY_SPACE: " ",
    C.CATEGORY_NOT_DIGIT: string.ascii_letters,
    C.CATEGORY_NOT_WORD: "-.:/+=",
    C.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}


def _class_chars(items) -> str:
    negate = False
    chars: set[str] = set()
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.add(chr(av))
        elif op is C.RANGE:
            lo, hi = av
            chars.update(chr(c) for c in range(lo, min(hi, 126) + 1) if chr(c).isprintable())
        elif op is C.CATEGORY:
            chars.update(_CATEGORY.get(av, ""))
    if negate:
        return "".join(c for c in _PRINTABLE if c not in chars) or "x"
    return "".join(sorted(c for c in chars if c not in "\n\r\t\x0b\x0c")) or " "


class RegexSampler:
    """Draws strings matching ``pattern``; ``groups`` holds each group's text of the last draw."""

    def __init__(self, pattern: str, seed: int = 0, max_extra: int = 6) -> None:
        self.pattern = pattern
        self.parsed = P.parse(pattern)
        self.rng = random.Random(seed)
        self.max_extra = max_extra
        self.groups: dict[int, str] = {}

    def sample(self) -> str:
        self.groups = {}
        return self._seq(self.parsed)

    def _seq(self, items) -> str:
        return "".join(self._one(op, av) for op, av in items)

    def _one(self, op, av) -> str:
        rng = self.rng
        if op is C.LITERAL:
            return chr(av)
        if op is C.NOT_LITERAL:
            return rng.choice([c for c in _PRINTABLE if ord(c) != av])
        if op is C.ANY:  # a lone "." in gitleaks is nearly always a sloppy literal dot
            return "."
        if op is C.IN:
            return rng.choice(_class_chars(av))
        if op is C.BRANCH:
            return self._seq(rng.choice(av[1]))
        if op is C.SUBPATTERN:
            group, _add, _del, body = av
            text = self._seq(body)
            if group is not None:
                self.groups[group] = text
            return text
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, body = av
            hi = lo + self.max_extra if hi is C.MAXREPEAT else min(hi, lo + 40)
            count = rng.randint(lo, hi)
            if list(body) == [(C.ANY, None)]:  # ".*": filler words between arguments
                return "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(count))
            return "".join(self._seq(body) for _ in range(count))
        if op is C.ATOMIC_GROUP:
            return self._seq(av)
        if op is C.GROUPREF:
            return self.groups.get(av, "")
        return ""  # AT (anchors), ASSERT, ASSERT_NOT: zero width


# gitleaks ends most rules with "then a quote, space, ; or end": not part of the secret.
_BOUNDARY = r"""(?:[\x60'"\s;]|\\[nr]|$)"""


def go_to_python(pattern: str) -> str:
    """A Go (RE2) pattern from gitleaks as Python ``re`` reads it, trailing boundary removed."""
    pattern = pattern.replace("(?i)", "")  # Go allows it mid-pattern; Python does not
    pattern = pattern.replace("\\z", "\\Z")
    if pattern.endswith(_BOUNDARY):
        pattern = pattern[: -len(_BOUNDARY)]
    return pattern


def samples(pattern: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` draws of ``(full match, secret)``: the secret is group 1 when there is one.

    Draws that the regex itself does not match (a rare artefact of lookarounds) are skipped.
    """
    pattern = go_to_python(pattern)
    sampler = RegexSampler(pattern, seed)
    rx = re.compile(pattern, re.IGNORECASE)
    out: list[tuple[str, str]] = []
    for _ in range(n * 5):
        text = sampler.sample()
        if rx.search(text) is None:
            continue
        secret = sampler.groups.get(1, text) or text
        out.append((text, secret))
        if len(out) == n:
            break
    return out
