"""Running the privacy filter chain.

The same chain runs on the prompt path, on import, on ``prune --filters`` and on extraction
of training data, so a command is judged the same way wherever it enters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from delta_core.plugin.protocols import Action, Finding, PrivacyFilter, Verdict


def apply_filters(filters: Iterable[PrivacyFilter], command: str, cwd: str = "") -> Verdict:
    """Pass ``command`` through every filter in order.

    A redaction is handed to the next filter; a drop ends the chain. A filter that raises
    drops the command: when in doubt, nothing is stored.
    """
    current = command
    findings: list[Finding] = []
    action: Action = "keep"
    for f in filters:
        try:
            v = f.check(current, cwd)
        except Exception as exc:
            return Verdict("drop", "", (*findings, Finding(f.name, "error", detail=str(exc))))
        if v.action == "keep" and not v.findings:  # most commands, at every filter
            continue
        findings.extend(v.findings)
        if v.action == "drop":
            return Verdict("drop", "", tuple(findings))
        if v.action == "redact":
            action = "redact"
            current = v.command
    return Verdict(action, current, tuple(findings))


class Explanation(NamedTuple):
    """What one filter of the chain did to a command: ``(filter, action, findings)``."""

    filter: str
    action: Action | str
    findings: tuple[Finding, ...]


def explain(filters: Iterable[PrivacyFilter], command: str, cwd: str = "") -> list[Explanation]:
    """Each filter's verdict on ``command``, for ``delta memory explain``.

    Filters see the command as the chain hands it on (earlier redactions applied), but unlike
    :func:`apply_filters` a drop does not stop the walk, so the user sees every reason.
    A filter that raises is reported with action ``"error"``. What would be stored is
    ``apply_filters(filters, command, cwd)``.
    """
    out: list[Explanation] = []
    current = command
    for f in filters:
        try:
            v = f.check(current, cwd)
        except Exception as exc:
            out.append(Explanation(f.name, "error", (Finding(f.name, "error", detail=str(exc)),)))
            continue
        out.append(Explanation(f.name, v.action, v.findings))
        if v.action == "redact":
            current = v.command
    return out


def configure_filters(filters: Iterable[Any], config: Any) -> None:
    """Give the configuration to every filter that has a ``configure(config)`` method.

    Called once when a context builds its components, so filters read settings such as
    ``filters.secrets_action`` up front instead of on every command. Raises the filter's
    :class:`~delta_core.config.ConfigError` for a bad setting (an invalid regex, say).
    """
    for f in filters:
        configure = getattr(f, "configure", None)
        if callable(configure):
            configure(config)
