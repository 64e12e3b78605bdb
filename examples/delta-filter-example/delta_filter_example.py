"""An example third-party privacy filter for Delta.

A command that ends with the comment ``#norecord`` is not stored, and internal host names
(``*.corp.example``) are replaced with ``<redacted:corp-host>``. Install this distribution
next to Delta and the filter joins the chain through its entry point in group ``delta``;
switch it off with ``filters.disabled = ["norecord_tag"]``.
"""

from __future__ import annotations

import re

from delta_core.api import Finding, Verdict, hookimpl

_TAG = re.compile(r"#\s*norecord\s*$")
_CORP_HOST = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.corp\.example\b")


class NoRecordTagFilter:
    name = "norecord_tag"

    def check(self, command: str, cwd: str) -> Verdict:
        tag = _TAG.search(command)
        if tag:
            return Verdict("drop", "", (Finding(self.name, "norecord", tag.start(), tag.end()),))
        hosts = list(_CORP_HOST.finditer(command))
        if not hosts:
            return Verdict("keep", command)
        findings = tuple(Finding(self.name, "corp-host", m.start(), m.end()) for m in hosts)
        return Verdict("redact", _CORP_HOST.sub("<redacted:corp-host>", command), findings)


@hookimpl
def delta_register_privacy_filters(register):
    register(NoRecordTagFilter())
