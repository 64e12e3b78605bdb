"""Running the privacy filter chain.

The same chain runs on the prompt path, on import, on ``prune --filters`` and on extraction
of training data, so a command is judged the same way wherever it enters.
"""

from __future__ import annotations

from collections.abc import Iterable

from delta_core.components import Finding, PrivacyFilter, Verdict


def apply_filters(filters: Iterable[PrivacyFilter], command: str, cwd: str = "") -> Verdict:
    """Pass ``command`` through every filter in order.

    A redaction is handed to the next filter; a drop ends the chain. A filter that raises
    drops the command: when in doubt, nothing is stored.
    """
    current = command
    findings: list[Finding] = []
    action = "keep"
    for f in filters:
        try:
            v = f.check(current, cwd)
        except Exception as exc:
            return Verdict("drop", "", (*findings, Finding(f.name, "error", detail=str(exc))))
        findings.extend(v.findings)
        if v.action == "drop":
            return Verdict("drop", "", tuple(findings))
        if v.action == "redact":
            action = "redact"
            current = v.command
    return Verdict(action, current, tuple(findings))
