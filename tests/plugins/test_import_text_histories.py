"""Importing bash, zsh and fish history files: real files from the real shells, damaged
files, and round trips of the formats (hypothesis)."""

from __future__ import annotations

import time

from delta_plugins.import_bash import BashImporter, parse_bash
from delta_plugins.import_fish import FishImporter, parse_fish
from delta_plugins.import_zsh import ZshImporter, parse_zsh, unmetafy
from hypothesis import given, settings
from hypothesis import strategies as st

from delta_core.plugin.protocols import ImportProblem
from tests.plugins.history_shells import (
    metafy,
    run_bash,
    run_fish,
    run_zsh,
    write_bash,
    write_fish,
    write_zsh,
)


def split(items):
    recs = [x for x in items if not isinstance(x, ImportProblem)]
    probs = [x for x in items if isinstance(x, ImportProblem)]
    return recs, probs


LOOP = ["for i in 1 2; do", "echo $i", "done"]


# --- bash -------------------------------------------------------------------------------


def test_bash_with_timestamps_keeps_multiline_commands_and_times(tmp_path):
    before = int(time.time()) - 1
    path = run_bash(
        tmp_path / "home",
        ["echo hello", *LOOP, 'echo "a', 'b"', "false", "echo ăуþ"],
        timestamps=True,
    )
    recs, probs = split(list(BashImporter().read(path)))
    assert probs == []
    cmds = [r.command for r in recs]
    assert cmds == [
        "shopt -s lithist",
        "echo hello",
        "for i in 1 2; do\necho $i\ndone",
        'echo "a\nb"',
        "false",
        "echo ăуþ",
    ]
    assert all(r.shell == "bash" for r in recs)
    assert all(before * 10**9 <= r.start_ns <= (time.time() + 1) * 1e9 for r in recs)


def test_bash_plain_history_is_one_command_per_line(tmp_path):
    path = run_bash(tmp_path / "home", ["echo one", *LOOP, "ls -la /"], timestamps=False)
    recs, probs = split(list(BashImporter().read(path)))
    assert probs == []
    # without lithist bash saves a loop on one line (cmdhist)
    assert [r.command for r in recs] == ["echo one", "for i in 1 2; do echo $i; done", "ls -la /"]
    assert all(r.start_ns == 0 for r in recs)  # no time: the import pipeline assigns one


def test_bash_bad_lines_are_reported_with_line_numbers_and_the_rest_kept(tmp_path):
    data = (
        b"#1700000000\nls\n"
        b"#1700000001\necho \xff\xfe latin\n"  # not UTF-8
        b"#1700000002\n\x00\x01\x02\x03binary\n"  # binary garbage
        b"#1700000003\ngit status\n"
        b"#17000000xx\necho after bad stamp\n"
        b"#1700000005\ngit comm"  # truncated: no final newline
    )
    recs, probs = split(list(parse_bash(data)))
    assert [r.command for r in recs] == ["ls", "git status", "echo after bad stamp"]
    assert recs[1].start_ns == 1_700_000_003 * 10**9
    lines = {p.line: p.message for p in probs}
    assert "UTF-8" in lines[4]
    assert "NUL" in lines[6]
    assert "timestamp" in lines[9]
    assert "truncated" in lines[12]
    assert sorted(lines) == [4, 6, 9, 12]


def test_bash_plain_with_stamps_in_between_follows_bash(tmp_path):
    # a file whose first line is not a stamp: every line is a command of its own
    recs, probs = split(list(parse_bash(b"old one\nold two\n#1700000000\nnew\nafter\n")))
    assert probs == []
    assert [(r.command, r.start_ns) for r in recs] == [
        ("old one", 0),
        ("old two", 0),
        ("new", 1_700_000_000 * 10**9),
        ("after", 0),
    ]


def test_bash_default_paths_honour_histfile(tmp_path):
    imp = BashImporter()
    assert imp.default_paths(tmp_path, {}) == [tmp_path / ".bash_history"]
    env = {"HISTFILE": str(tmp_path / "h"), "SHELL": "/bin/bash"}
    assert imp.default_paths(tmp_path, env)[0] == tmp_path / "h"
    env = {"HISTFILE": str(tmp_path / ".zsh_history"), "SHELL": "/bin/bash"}
    assert tmp_path / ".zsh_history" not in imp.default_paths(tmp_path, env)


_line = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n"), min_size=1
).filter(lambda s: s.strip() and not (s[:1] == "#" and s[1:2].isdigit()))
_stamp = st.integers(min_value=1_000_000_000, max_value=4_000_000_000)


@settings(max_examples=150, deadline=None)
@given(st.lists(_line, max_size=20))
def test_bash_plain_round_trip(commands):
    recs, probs = split(list(parse_bash(write_bash(commands))))
    assert probs == []
    assert [r.command for r in recs] == commands


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_stamp, st.lists(_line, min_size=1, max_size=3)), max_size=15))
def test_bash_timestamped_round_trip(entries):
    commands = [(t, "\n".join(lines)) for t, lines in entries]
    recs, probs = split(list(parse_bash(write_bash(commands))))
    assert probs == []
    assert [(r.start_ns // 10**9, r.command) for r in recs] == commands


# --- zsh --------------------------------------------------------------------------------


def test_zsh_extended_history_from_real_zsh(tmp_path):
    before = int(time.time()) - 1
    lines = ["echo hello", "for i in 1 2", "do", "echo $i", "done", 'echo "ăуþ"']
    lines += ["echo trailing\\\\", "sleep 1.1"]
    path = run_zsh(tmp_path / "home", lines, extended=True)
    assert b"\x83" in path.read_bytes()  # zsh metafied the Cyrillic у (D1 83)
    recs, probs = split(list(ZshImporter().read(path)))
    assert probs == []
    assert [r.command for r in recs] == [
        "setopt EXTENDED_HISTORY INC_APPEND_HISTORY_TIME",
        "echo hello",
        "for i in 1 2\ndo\necho $i\ndone",
        'echo "ăуþ"',
        "echo trailing\\\\",
        "sleep 1.1",
    ]
    assert all(r.start_ns >= before * 10**9 and r.shell == "zsh" for r in recs)
    # zsh writes end second minus start second: a 1.1 s sleep is 1 or 2 by where it started
    assert recs[-1].duration in (1.0, 2.0)


def test_zsh_plain_history_from_real_zsh(tmp_path):
    path = run_zsh(tmp_path / "home", ["echo one", "echo 'two", "lines'"], extended=False)
    recs, probs = split(list(ZshImporter().read(path)))
    assert probs == []
    assert [r.command for r in recs] == [
        "setopt INC_APPEND_HISTORY",
        "echo one",
        "echo 'two\nlines'",
    ]
    assert all(r.start_ns == 0 for r in recs)


def test_zsh_bad_entries_reported_rest_kept():
    data = (
        b": 1700000000:5;make\n"
        b": 1700000001:0;echo \xff\\\nsecond line of a bad entry\n"  # not UTF-8, 2 lines
        b": 1700000002:0;\x00\x00garbage\n"
        b": 1700000003:0;ls\n"
        b": 1700000004:0;git pu"
    )
    recs, probs = split(list(parse_zsh(data)))
    assert [(r.command, r.start_ns // 10**9) for r in recs] == [
        ("make", 1_700_000_000),
        ("ls", 1_700_000_003),
    ]
    assert recs[0].duration == 5.0
    assert recs[1].duration is None  # zsh writes 0 when it did not measure
    assert [p.line for p in probs] == [2, 4, 6]


def test_unmetafy_inverts_metafy_on_every_byte():
    raw = bytes(range(256)) * 2
    assert unmetafy(metafy(raw)) == raw


_zsh_cmd = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
).filter(lambda s: s.strip() and not s.startswith(": "))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(_zsh_cmd, st.tuples(_stamp, st.integers(0, 10**6), _zsh_cmd)), max_size=15)
)
def test_zsh_round_trip(entries):
    recs, probs = split(list(parse_zsh(write_zsh(entries))))
    assert probs == []
    expected = [e if isinstance(e, str) else e[2] for e in entries]
    assert [r.command for r in recs] == expected
    for rec, e in zip(recs, entries, strict=True):
        if isinstance(e, tuple):
            assert rec.start_ns == e[0] * 10**9
            assert rec.duration == (float(e[1]) if e[1] else None)
        else:
            assert rec.start_ns == 0


# --- fish -------------------------------------------------------------------------------


def test_fish_history_from_real_fish(tmp_path):
    before = int(time.time()) - 1
    path = run_fish(
        tmp_path / "home", ["echo hello", 'echo "two', 'lines"', "echo a\\\\b", "false"]
    )
    recs, probs = split(list(FishImporter().read(path)))
    assert probs == []
    assert [r.command for r in recs] == [
        "echo hello",
        'echo "two\nlines"',
        "echo a\\\\b",
        "false",
        "exit",
    ]
    assert all(r.start_ns >= before * 10**9 and r.shell == "fish" for r in recs)


def test_fish_damage_reported_rest_kept():
    data = (
        b"- cmd: ls\n  when: 1700000000\n  paths:\n    - /tmp\n"
        b"- cmd: echo \xff\n  when: 1700000001\n"  # not UTF-8: entry skipped
        b"rubbish at top level\n"
        b"- cmd: git status\n  when: 1700000003\n"
        b"- cmd: git push\n  when: 17000"  # cut inside the last entry
    )
    recs, probs = split(list(parse_fish(data)))
    assert [(r.command, r.start_ns // 10**9) for r in recs] == [
        ("ls", 1_700_000_000),
        ("git status", 1_700_000_003),
    ]
    assert {p.line for p in probs} == {5, 7, 10, 11}


def test_fish_default_path_follows_xdg_and_session_name(tmp_path):
    imp = FishImporter()
    env = {"XDG_DATA_HOME": str(tmp_path / "d"), "fish_history": "work"}
    assert imp.default_paths(tmp_path, env)[0] == tmp_path / "d" / "fish" / "work_history"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_stamp, _zsh_cmd), max_size=15))
def test_fish_round_trip(entries):
    recs, probs = split(list(parse_fish(write_fish(entries))))
    assert probs == []
    assert [(r.start_ns // 10**9, r.command) for r in recs] == entries


def test_zsh_history_never_metafied_is_read_as_plain_utf8():
    # written by a converter rather than zsh: "у" (D1 83) must not be taken for Meta
    recs, probs = split(list(parse_zsh(": 1700000000:0;echo привет, друг\n".encode())))
    assert probs == [] and recs[0].command == "echo привет, друг"
