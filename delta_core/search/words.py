"""Command words as lexical search and the embedders see them, without numpy.

Split from :mod:`delta_core.search.lexical` (which keeps BM25's postings in numpy arrays) so
that the public plugin API, which every plugin imports at the shell's start, does not import
numpy; :mod:`delta_core.search.lexical` re-exports these.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ing", "ed", "es", "s", "e")


def words(text: str) -> list[str]:
    """Lower-case alphanumeric runs: ``tar -xzf a.tgz`` -> ``tar xzf a tgz``."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A light English stemmer (archiving, archives, archive -> archiv); short words stay."""
    for suf in _SUFFIXES:
        if len(word) > len(suf) + 3 and word.endswith(suf):
            return word[: -len(suf)]
    return word


def stemmed_words(text: str) -> list[str]:
    return [stem(w) for w in words(text)]
