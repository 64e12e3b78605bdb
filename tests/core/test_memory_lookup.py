"""`delta memory search` on a real-looking memory: frecency within matches, typos forgiven,
Delta's own commands and redaction placeholders never matching."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from delta_core.cli import build_cli
from delta_core.memory.lookup import search_commands
from delta_core.memory.matchable import is_own_command, match_text
from delta_core.memory.store import Store
from tests.conftest import make_record

DAY = 86_400 * 10**9


@pytest.fixture
def memory(delta_home):
    """A month of one person's shell: a few habits, one-offs, failures, Delta's own traces."""
    recs = []
    t = 1_764_000_000 * 10**9
    i = 0

    def add(cmd, n=1, *, at=0, exit=0):
        nonlocal i
        for k in range(n):
            recs.append(make_record(i, cmd, start_ns=t + at * DAY + k * 60 * 10**9, exit=exit))
            i += 1

    add("git log --oneline -5", 72, at=25)
    add("git status", 40, at=3)
    add("git stash", 3, at=1)
    add("git commit -m 'wip'", 1, at=29)
    add("git pushh", 4, at=28, exit=1)
    add("git push", 4, at=27)
    add("curl -H 'Authorization: token <redacted:github-token>' https://api.example.com", at=29)
    add("az cognitiveservices account list-usage --name lang --resource-group rg", 2, at=20)
    add('delta search "git"', 5, at=29)
    add(":memory search git", 2, at=29)
    add("DELTA_HOME=/tmp/x delta memory stats", at=29)
    with Store(delta_home) as store:
        store.add_many(recs)
    return delta_home, t + 30 * DAY


def _search(root, text, mode, monkeypatch, now):
    monkeypatch.setattr("delta_core.memory.lookup.time.time_ns", lambda: now)
    with Store(root) as store:
        return [h.stats.command for h in search_commands(store, text, mode)]


def test_substring_ranks_by_frecency_and_ignores_placeholders_and_delta(memory, monkeypatch):
    root, now = memory
    got = _search(root, "git", "substring", monkeypatch, now)
    assert got[0] == "git log --oneline -5"  # 72 times, five days ago
    assert not any("redacted" in c for c in got)  # "github-token" is the placeholder's text
    assert not any(c.startswith(("delta", ":memory", "DELTA_HOME")) for c in got)
    assert got.index("git push") < got.index("git pushh")  # as often, but it always failed


def test_fuzzy_forgives_typos_and_keeps_unrelated_out(memory, monkeypatch):
    root, now = memory
    got = _search(root, "gti stauts", "fuzzy", monkeypatch, now)
    assert got[0] == "git status"
    assert not any(c.startswith("az ") for c in got)
    assert _search(root, "gti psuh", "fuzzy", monkeypatch, now)[0] == "git push"


def test_prefix_is_not_fooled_by_a_placeholder(memory, monkeypatch):
    root, now = memory
    assert _search(root, "curl", "prefix", monkeypatch, now) == [
        "curl -H 'Authorization: token <redacted:github-token>' https://api.example.com"
    ]
    assert _search(root, "delta", "prefix", monkeypatch, now) == []


def test_cli_fuzzy_and_bad_mode(memory):
    r = CliRunner().invoke(
        build_cli(), ["memory", "search", "gti stauts", "--mode", "fuzzy", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["command"] == "git status"


@pytest.mark.parametrize(
    ("command", "own"),
    [
        ('delta search "init"', True),
        ("/usr/local/bin/delta memory stats", True),
        ("DELTA_HOME=/x delta-train --trainer local", True),
        (":memory search git", True),
        ("deltarune --play", False),
        ("git diff delta", False),
        ("", False),
    ],
)
def test_own_commands(command, own):
    assert is_own_command(command) is own


@given(st.text(max_size=60), st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True))
def test_placeholders_leave_no_trace_in_the_matched_text(text, rule):
    out = match_text(f"{text}<redacted:{rule}>{text}")
    assert (f"<redacted:{rule}>" not in out and out.count(text) >= 2) or not text
