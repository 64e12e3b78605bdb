"""The ``secrets`` privacy filter: finds tokens, keys and passwords in a command and redacts them.

Only the secret is replaced (``export GITHUB_TOKEN=<redacted:github-token>``), so the command
stays useful to learn from; with ``filters.secrets_action = "drop"`` the whole command is
dropped instead. The rules live in :mod:`delta_plugins.secret_rules`.

Cost: one lowering of the command and a substring test per keyword; a rule's regex runs only
when one of its keywords occurs, which most commands never trigger.
"""

from __future__ import annotations

import re

from delta_plugins.secret_rules import RULES, Rule

from delta_core.api import Config, Finding, Verdict, hookimpl

_QUOTES = "\"'"
_MARK = re.compile(r"<redacted:[a-z0-9-]+>")


_Index = tuple[tuple[str, tuple[int, ...]], ...]


def _keyword_index(rules: tuple[Rule, ...]) -> tuple[_Index, _Index]:
    """Each keyword once with the rules it unlocks: those without ``_``, and those with it.

    Keywords with an underscore (``npm_``, ``hf_``, ``_auth``) are tested only when the
    command has an underscore at all, which most do not: fewer substring tests per command.
    """
    by_kw: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        for kw in rule.keywords:
            by_kw.setdefault(kw, []).append(i)
    plain = tuple((kw, tuple(ix)) for kw, ix in by_kw.items() if "_" not in kw)
    under = tuple((kw, tuple(ix)) for kw, ix in by_kw.items() if "_" in kw)
    return plain, under


class SecretScanner:
    """Finds secrets in text with a rule table; knows nothing of configuration."""

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        self.rules = rules
        self._keywords = _keyword_index(rules)

    def scan(self, text: str) -> list[Finding]:
        """Every secret in ``text``, as non-overlapping findings in order of position."""
        lowered = text.lower()
        wanted: set[int] = set()
        plain, under = self._keywords
        for kw, ix in plain:
            if kw in lowered:
                wanted.update(ix)
        if "_" in lowered:
            for kw, ix in under:
                if kw in lowered:
                    wanted.update(ix)
        if not wanted:
            return []
        spans: list[tuple[int, int, int]] = []  # start, end, rule position
        for i in sorted(wanted):
            rule = self.rules[i]
            if rule.requires and not any(r in lowered for r in rule.requires):
                continue
            for m in rule.pattern.finditer(text):
                if rule.accept is not None and not rule.accept(m):
                    continue
                start, end = m.span("value") if "value" in rule.pattern.groupindex else m.span()
                if start < 0 or start == end:
                    start, end = m.span()
                spans.append((*_inside_quotes(text, start, end), i))
        if "<redacted:" in text:
            # Our own placeholders are never a secret (this keeps filtering idempotent).
            marks = [m.span() for m in _MARK.finditer(text)]
            spans = [sp for sp in spans if not any(sp[0] < e and s < sp[1] for s, e in marks)]
        return self._merge(spans)

    def _merge(self, spans: list[tuple[int, int, int]]) -> list[Finding]:
        # Overlapping finds of one secret become one span named by the earliest rule, which
        # is the most specific one (provider rules come first in the table).
        spans.sort()
        merged: list[list[int]] = []
        for start, end, i in spans:
            if merged and start < merged[-1][1]:
                last = merged[-1]
                last[1] = max(last[1], end)
                last[2] = min(last[2], i)
            else:
                merged.append([start, end, i])
        return [
            Finding("secrets", self.rules[i].name, s, e, self.rules[i].description)
            for s, e, i in merged
        ]


def _inside_quotes(text: str, start: int, end: int) -> tuple[int, int]:
    """Keep a value's enclosing quotes out of the redaction: ``"<redacted:x>"``.

    Closing brackets glued after the quotes (``"pw"}`` in JSON) stay too.
    """
    if end - start >= 2 and text[start] in _QUOTES:
        close = text.find(text[start], start + 1, end)
        if close != -1 and not text[close + 1 : end].strip("}])"):
            return start + 1, close
    return start, end


def redact(text: str, findings: list[Finding]) -> str:
    """``text`` with each finding's span replaced by ``<redacted:RULE>``."""
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(f"<redacted:{f.rule}>")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


MAX_PASSES = 3


class SecretsFilter:
    """Redacts (or drops, per ``filters.secrets_action``) commands that carry secrets."""

    name = "secrets"

    def __init__(self, scanner: SecretScanner | None = None, action: str | None = None) -> None:
        self.scanner = scanner or SecretScanner()
        self.action = action

    def configure(self, config: Config) -> None:
        """Take ``filters.secrets_action`` from the configuration."""
        self.action = config["filters.secrets_action"]

    def check(self, command: str, cwd: str) -> Verdict:
        findings = self.scanner.scan(command)
        if not findings:
            return Verdict("keep", command)
        if self.action is None:  # used outside a DeltaContext: read the config once
            self.configure(Config.load())
        if self.action == "drop":
            return Verdict("drop", "", tuple(findings))
        redacted = redact(command, findings)
        # A redaction can bring a secret's parts together that an overlapping match hid
        # (``TOKEN=curl -u ://curl -u :a``); scan again until nothing is left, a few times.
        for _ in range(MAX_PASSES):
            more = self.scanner.scan(redacted)
            if not more:
                break
            findings.extend(more)
            redacted = redact(redacted, more)
        else:
            if self.scanner.scan(redacted):  # still a secret after every pass: keep nothing
                return Verdict("drop", "", tuple(findings))
        return Verdict("redact", redacted, tuple(findings))


# Last, after any other filter: redaction must see what they hand on.
@hookimpl(trylast=True)
def delta_register_privacy_filters(register):
    register(SecretsFilter())
