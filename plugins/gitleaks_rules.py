"""gitleaks' rule set as rules of the ``secrets`` filter, loaded from the shipped data file.

``data/gitleaks_rules.json`` is generated from gitleaks' ``config/gitleaks.toml`` (MIT, notice in
``data/gitleaks.LICENSE``) by :mod:`delta_plugins.gitleaks_import`, which also translates the RE2
patterns to Python's ``re``. Each rule keeps gitleaks' semantics for one line of text:

* the secret is the rule's ``secretGroup``, else the first non-empty group, else the whole match;
* a secret whose Shannon entropy is at or below the rule's ``entropy`` is no finding;
* the global allowlist and the rule's own allowlists (regexes on the secret, the match or the
  line; stop words contained in the secret; ``OR``/``AND`` conditions) excuse a finding.

The rules are ordered after the built-in ones, and gitleaks' catch-all ``generic-api-key`` last,
so that a more specific rule names a secret both find.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from delta_plugins.secret_rules import Rule

DATA_FILE = Path(__file__).resolve().parent / "data" / "gitleaks_rules.json"
SOURCE = "gitleaks"
LAST = ("generic-api-key",)


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` by its own character frequencies (gitleaks' measure)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def secret_span(m: re.Match[str], group: int) -> tuple[int, int]:
    """Where gitleaks' secret lies in a match: ``group``, else the first non-empty group."""
    if group:
        return m.span(group)
    for g in range(1, (m.re.groups or 0) + 1):
        start, end = m.span(g)
        if end > start:
            return start, end
    return m.span()


class _Allowlist:
    """One allowlist: regexes on a target and stop words contained in the secret.

    Its regexes are compiled the first time a finding is judged by it, not at load.
    """

    __slots__ = ("_compiled", "_sources", "all", "stopwords", "target")

    def __init__(self, raw: dict) -> None:
        self.target = raw["target"]
        self.all = raw["condition"] == "AND"
        self._sources: tuple[str, ...] = tuple(raw["regexes"])
        self._compiled: tuple[re.Pattern[str], ...] | None = None
        self.stopwords = tuple(raw["stopwords"])

    @property
    def regexes(self) -> tuple[re.Pattern[str], ...]:
        """The compiled regexes (compiled on first use)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = tuple(re.compile(r, re.ASCII) for r in self._sources)
        return compiled

    @property
    def compiled(self) -> bool:
        """Whether :attr:`regexes` has been compiled yet."""
        return self._compiled is not None or not self._sources

    def allows(self, secret: str, match: str, line: str) -> bool:
        checks = []
        if self._sources:
            text = match if self.target == "match" else line if self.target == "line" else secret
            checks.append(any(r.search(text) for r in self.regexes))
        if self.stopwords:
            low = secret.lower()
            checks.append(any(w in low for w in self.stopwords))
        return all(checks) if self.all else any(checks)


def _acceptor(raw: dict, global_allow: _Allowlist | None) -> Callable[[re.Match[str]], bool]:
    floor = raw["entropy"]
    group = raw["secret_group"]
    allows = [_Allowlist(a) for a in raw["allowlists"]]
    if global_allow is not None:
        allows.insert(0, global_allow)

    def accept(m: re.Match[str]) -> bool:
        start, end = secret_span(m, group)
        secret = m.string[start:end].strip("\n")
        if floor and shannon_entropy(secret) <= floor:
            return False
        match = m.group(0).strip("\n")
        return not any(a.allows(secret, match, m.string) for a in allows)

    return accept


def load(path: Path = DATA_FILE) -> tuple[Rule, ...]:
    """The rules of a generated gitleaks data file, in filter order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    glob = doc.get("global_allowlist")
    global_allow = _Allowlist(glob) if glob else None
    raws = sorted(doc["rules"], key=lambda r: r["id"] in LAST)
    return tuple(
        Rule(
            name=raw["id"],
            description=raw["description"],
            regex=raw["regex"],
            keywords=tuple(raw["keywords"]),
            accept=_acceptor(raw, global_allow),
            source=SOURCE,
            secret_group=raw["secret_group"],
            flags=re.ASCII,
        )
        for raw in raws
    )


RULES: tuple[Rule, ...] = load()
