"""Knowledge miners on real command sequences (Schonlau SEA, Purdue), checked by recounting.

The corpora hold command names only, without sessions, directories or exit codes: sessions
are built as consecutive blocks, projects are assigned per block, and the fix miner gets
typos injected into a real Purdue session (the corpora record no failures).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from delta_core.learn.knowledge import (
    Fix,
    alias_hints,
    fixes,
    profiles,
    sessions,
    suggest_fix,
    workflows,
)
from delta_core.records.record import Record
from tests.conftest import SHARED_DATA

SEA = SHARED_DATA / "schonlau_sea" / "User1"
PURDUE = SHARED_DATA / "purdue_pu_truncated" / "USER1"
T0 = 1_764_000_000 * 10**9


def names(path, n):
    if not path.exists():
        pytest.skip(f"{path} not available")
    return [w.strip() for w in path.read_text().splitlines() if w.strip()][:n]


def blocks(seq, size):
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def occurs(seq, group) -> bool:
    n = len(seq)
    return any(tuple(group[i : i + n]) == seq for i in range(len(group) - n + 1))


def test_workflows_on_schonlau_are_real_frequent_sequences():
    groups = blocks(names(SEA, 5000), 100)  # SEA's own block size
    found = workflows(groups, min_support=5, top=30)
    assert found
    for w in found:
        # support is the number of sessions that really contain the sequence
        assert w.support == sum(occurs(w.commands, g) for g in groups) >= 5
        assert 2 <= len(w.commands) <= 5
        assert all(a != b for a, b in zip(w.commands, w.commands[1:], strict=False))
    # user 1's X session start-up recurs: cpp -> sh -> xrdb
    assert any(
        occurs(("cpp", "sh", "xrdb"), w.commands) or w.commands == ("cpp", "sh", "xrdb")
        for w in found
    )


def test_profiles_on_purdue_count_each_projects_commands():
    cmds = names(PURDUE, 3000)
    recs = []
    for b, block in enumerate(blocks(cmds, 500)):
        root = f"/home/u/proj{b % 2}"
        recs += [
            Record(c, T0 + (b * 500 + i) * 10**9, cwd=root + "/src", extra={"git_root": root})
            for i, c in enumerate(block)
        ]
    got = {p.project: p for p in profiles(recs, top=5)}
    assert set(got) == {"/home/u/proj0", "/home/u/proj1"}
    for b in (0, 1):
        expect = Counter(c for k, blk in enumerate(blocks(cmds, 500)) if k % 2 == b for c in blk)
        p = got[f"/home/u/proj{b}"]
        assert p.kind == "git" and p.records == sum(expect.values())
        assert [n for _, n in p.top] == [n for _, n in expect.most_common(5)]


def test_fixes_found_in_a_purdue_session_with_typos():
    cmds = names(PURDUE, 200)
    recs, t = [], T0
    for c in cmds:
        if c == "ls":  # the user mistypes `ls` now and then, then corrects it
            recs.append(Record("sl -la", t, exit=127, session="p1"))
            t += 2 * 10**9
            c = "ls -la"
        recs.append(Record(c, t, exit=0, session="p1"))
        t += 2 * 10**9
    mined = fixes(sessions(recs))
    assert mined[0] == Fix("sl -la", "ls -la", Counter(cmds)["ls"])
    assert all(f.failed != f.fixed for f in mined)
    assert suggest_fix("sl -la", mined) == "ls -la"


def test_suggest_fix_carries_a_corrected_program_name():
    recs = [
        Record("gti status", T0, exit=127, session="a"),
        Record("git status", T0 + 10**9, exit=0, session="a"),
        Record("make", T0 + 2 * 10**9, exit=2, session="a"),
        Record("cd ..", T0 + 3 * 10**9, exit=0, session="a"),
    ]
    mined = fixes(sessions(recs))
    assert [(f.failed, f.fixed) for f in mined] == [("gti status", "git status")]
    assert suggest_fix("gti push origin main", mined) == "git push origin main"
    assert suggest_fix("make", mined) is None  # `cd ..` is not a correction of `make`


def test_alias_hints_rank_by_keystrokes_saved():
    recs = [Record("docker compose -f docker-compose.dev.yml up --build", T0 + i) for i in range(6)]
    recs += [Record("kubectl get pods -n production", T0 + 100 + i) for i in range(9)]
    recs += [Record("ls", T0 + 200 + i) for i in range(50)]
    hints = alias_hints(recs)
    # 6 x 47 keystrokes saved beats 9 x 26; `ls` is too short to need an alias
    assert [h.command for h in hints] == [
        "docker compose -f docker-compose.dev.yml up --build",
        "kubectl get pods -n production",
    ]
    assert (hints[0].alias, hints[0].saved_keystrokes) == ("dcdu", 6 * (51 - 4))
    assert (hints[1].alias, hints[1].count) == ("kgpp", 9)


def test_sessions_split_on_pauses_without_ids():
    recs = [Record("a", T0), Record("b", T0 + 10**9), Record("c", T0 + 3600 * 10**9)]
    assert [[r.command for r in s] for s in sessions(recs)] == [["a", "b"], ["c"]]


def test_cli_knowledge_json(delta_home):
    from delta_core.cli import build_cli
    from delta_core.memory.store import Store

    with Store(delta_home) as store:
        store.add_many(
            [
                Record("gti status", T0, exit=127, session="s", cwd="/w"),
                Record("git status", T0 + 10**9, exit=0, session="s", cwd="/w"),
            ]
            + [
                Record(c, T0 + (10 + i) * 10**9, exit=0, session=f"x{i // 2}", cwd="/w")
                for i, c in enumerate(["make", "make test"] * 4)
            ]
        )
    cli = build_cli()
    r = CliRunner().invoke(cli, ["knowledge", "fixes", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == [{"failed": "gti status", "fixed": "git status", "count": 1}]
    r = CliRunner().invoke(cli, ["knowledge", "workflows", "--json", "--min-support", "3"])
    assert json.loads(r.output)[0]["commands"] == ["make", "make test"]
    r = CliRunner().invoke(cli, ["knowledge", "profiles", "--json"])
    assert json.loads(r.output)[0]["project"] == "/w"
    r = CliRunner().invoke(cli, ["knowledge", "aliases", "--since", "yesterday-ish"])
    assert r.exit_code != 0 and "is not a time" in r.output
