"""Importing xonsh's JSON and SQLite histories (written by a real xonsh) and atuin's database
(built from atuin's own migration SQL), whole and damaged."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from delta_plugins.import_atuin import AtuinImporter
from delta_plugins.import_xonsh_json import XonshJsonImporter
from delta_plugins.import_xonsh_sqlite import XonshSqliteImporter

from delta_core.plugin.protocols import ImportProblem
from tests.plugins.history_shells import ATUIN_SCHEMA, run_xonsh

# xonsh's readline shell indents the line after "if True:" by itself
TYPED = ["echo hello", "ls /nonexistent-dir", "cd /tmp", "pwd", "if True:", "echo multi", ""]
EXPECTED = [
    ("echo hello", 0),
    ("ls /nonexistent-dir", 2),
    ("cd /tmp", 0),
    ("pwd", 0),
    ("if True:\n    echo multi", 0),
]


def split(items):
    recs = [x for x in items if not isinstance(x, ImportProblem)]
    probs = [x for x in items if isinstance(x, ImportProblem)]
    return recs, probs


@pytest.fixture(scope="module")
def xonsh_json_dir(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("xj")
    return run_xonsh(home, TYPED, backend="json") / "history_json"


@pytest.fixture(scope="module")
def xonsh_sqlite_file(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("xs")
    return run_xonsh(home, TYPED, backend="sqlite") / "xonsh-history.sqlite"


def check_xonsh_records(recs, home: Path):
    assert [(r.command, r.exit) for r in recs] == EXPECTED
    assert len({r.session for r in recs}) == 1 and recs[0].session
    assert [r.cwd for r in recs] == [str(home)] * 3 + ["/tmp"] * 2  # cwd where each started
    now = time.time_ns()
    assert all(now - 600 * 10**9 < r.start_ns <= now for r in recs)
    assert all(r.duration is not None and 0 <= r.duration < 60 for r in recs)
    assert [r.start_ns for r in recs] == sorted(r.start_ns for r in recs)
    assert all(r.shell == "xonsh" for r in recs)


def test_xonsh_json_directory_from_real_xonsh(xonsh_json_dir):
    recs, probs = split(list(XonshJsonImporter().read(xonsh_json_dir)))
    assert probs == []
    check_xonsh_records(recs, xonsh_json_dir.parents[3])


def test_xonsh_json_damaged_files_keep_what_is_whole(xonsh_json_dir, tmp_path):
    (real,) = xonsh_json_dir.glob("xonsh-*.json")
    data = real.read_bytes()
    d = tmp_path / "history_json"
    d.mkdir()
    # 1. cut inside the third command: the first two are salvaged
    third = data.index(b'"inp": "cd /tmp')
    (d / "xonsh-cut.json").write_bytes(data[:third])
    # 2. one command's input holds a byte that is not UTF-8
    (d / "xonsh-bad-utf8.json").write_bytes(data.replace(b"echo hello", b"echo h\xffllo"))
    # 3. pure garbage
    (d / "xonsh-garbage.json").write_bytes(bytes(range(256)) * 8)
    recs, probs = split(list(XonshJsonImporter().read(d)))
    by_file: dict[str, list[str]] = {}
    for p in probs:
        by_file.setdefault(p.message.split(":")[0], []).append(p.message)
    assert set(by_file) == {"xonsh-cut.json", "xonsh-bad-utf8.json", "xonsh-garbage.json"}
    cmds = [r.command for r in recs]
    assert cmds.count("echo hello") == 1 and cmds.count("ls /nonexistent-dir") == 2
    assert cmds.count("pwd") == 1  # only from the file with the bad byte
    assert "echo h\ufffdllo" not in cmds
    assert all(p.line > 0 for p in probs if "garbage" not in p.message)


def test_xonsh_sqlite_from_real_xonsh(xonsh_sqlite_file):
    recs, probs = split(list(XonshSqliteImporter().read(xonsh_sqlite_file)))
    assert probs == []
    check_xonsh_records(recs, xonsh_sqlite_file.parents[3])


def test_xonsh_sqlite_bad_rows_and_damage(xonsh_sqlite_file, tmp_path):
    db = tmp_path / "xonsh-history.sqlite"
    db.write_bytes(xonsh_sqlite_file.read_bytes())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(
            "INSERT INTO xonsh_history (inp, rtn, tsb, tse, sessionid) "
            "VALUES (CAST(X'6563686FFF' AS TEXT), 0, 1700000000.5, 1700000001.0, 's')"
        )
        conn.execute(
            "INSERT INTO xonsh_history (inp, rtn, tsb, tse, sessionid) "
            "VALUES ('make', 0, 1700000002.25, 1700000003.0, 's')"
        )
    recs, probs = split(list(XonshSqliteImporter().read(db)))
    assert [p.message for p in probs] == [
        f"row {len(EXPECTED) + 1}: 'inp' is not UTF-8 text; skipped"
    ]
    assert recs[-1].command == "make" and recs[-1].start_ns == 1_700_000_002_250_000_000
    assert recs[-1].duration == 0.75

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00\xff" * 5000)
    recs, probs = split(list(XonshSqliteImporter().read(garbage)))
    assert recs == [] and "not a readable SQLite database" in probs[0].message


def make_atuin(path: Path, rows) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(ATUIN_SCHEMA)
        conn.executemany(
            "INSERT INTO history (id, timestamp, duration, exit, command, cwd, session, "
            "hostname, deleted_at, shell) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def test_atuin_database(tmp_path):
    db = tmp_path / "history.db"
    t0 = 1_700_000_000_123_456_789
    make_atuin(
        db,
        [
            ("a1", t0, 1_500_000_000, 0, "cargo build", "/src", "s1", "box:ada", None, "zsh"),
            ("a2", t0 + 10**9, 2_000_000, 1, "cargo tset", "/src", "s1", "box:ada", None, "zsh"),
            ("a3", t0 + 2 * 10**9, -1, -1, "sleep 100", "/src", "s1", "box:ada", None, None),
            ("a4", t0 + 3 * 10**9, 5, 0, "rm secret", "/", "s1", "box:ada", t0 + 9, None),
            ("a5", t0 + 4 * 10**9, 5, 0, "ls", "unknown", "s2", "other:bob", None, None),
        ],
    )
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO history VALUES ('a6', ?, 1, 0, CAST(X'6C73FF' AS TEXT), '/', 's', "
            "'h:u', NULL, NULL)",
            (t0 + 5 * 10**9,),
        )
    recs, probs = split(list(AtuinImporter().read(db)))
    assert [p.line for p in probs] == [6]  # the row that is not UTF-8
    assert [r.command for r in recs] == ["cargo build", "cargo tset", "sleep 100", "ls"]
    first, failed, running, other = recs
    assert first.start_ns == t0 and first.duration == 1.5 and first.exit == 0
    assert (first.cwd, first.session, first.host, first.user) == ("/src", "s1", "box", "ada")
    assert first.shell == "zsh"
    assert failed.exit == 1 and failed.duration == 0.002
    assert running.exit is None and running.duration is None  # -1: still running / unknown
    assert other.cwd == "" and (other.host, other.user) == ("other", "bob")


def test_atuin_truncated_and_corrupted_database_keeps_readable_rows(tmp_path):
    db = tmp_path / "history.db"
    rows = [
        (
            f"id{i}",
            1_700_000_000 * 10**9 + i * 10**9,
            1000,
            0,
            f"echo {i} " + "x" * 200,
            "/",
            "s",
            "h:u",
            None,
            None,
        )
        for i in range(3000)
    ]
    make_atuin(db, rows)
    data = bytearray(db.read_bytes())
    page = 4096
    # overwrite the table page holding row 1000 with garbage, and cut the file's tail off
    # (the table's cell: id then command; the indexes hold one or the other)
    at = re.search(rb"id1000.{0,40}echo 1000 ", data, re.S).start() // page * page
    data[at : at + page] = b"\xa5" * page
    cut = tmp_path / "cut.db"
    cut.write_bytes(bytes(data[: len(data) * 2 // 3 // page * page]))
    recs, probs = split(list(AtuinImporter().read(cut)))
    got = [int(r.command.split()[1]) for r in recs]
    assert got == sorted(got) and len(set(got)) == len(got)
    missing = sorted(set(range(3000)) - set(got))
    hole = [m for m in missing if m < 1500]
    assert 1000 in hole and hole == list(range(hole[0], hole[-1] + 1))  # one stretch
    assert len(hole) <= 20  # just the rows of the damaged page; reading went on after it
    tail = [m for m in missing if m >= 1500]
    assert tail and tail[-1] == 2999  # the rows of the cut-off pages
    assert len(probs) == 2 and all("unreadable" in p.message for p in probs)


def test_default_paths_follow_the_environment(tmp_path):
    env = {"XONSH_DATA_DIR": str(tmp_path / "xd"), "ATUIN_DB_PATH": str(tmp_path / "a.db")}
    assert XonshJsonImporter().default_paths(tmp_path, env)[0] == tmp_path / "xd" / "history_json"
    assert XonshSqliteImporter().default_paths(tmp_path, env)[0] == (
        tmp_path / "xd" / "xonsh-history.sqlite"
    )
    assert AtuinImporter().default_paths(tmp_path, env)[0] == tmp_path / "a.db"
    xdg = {"XDG_DATA_HOME": str(tmp_path / "share")}
    assert XonshJsonImporter().default_paths(tmp_path, xdg)[0] == (
        tmp_path / "share" / "xonsh" / "history_json"
    )
    assert AtuinImporter().default_paths(tmp_path, xdg)[0] == (
        tmp_path / "share" / "atuin" / "history.db"
    )


def test_single_xonsh_json_file_can_be_imported(xonsh_json_dir):
    (real,) = xonsh_json_dir.glob("xonsh-*.json")
    doc = json.loads(real.read_bytes())
    recs, probs = split(list(XonshJsonImporter().read(real)))
    assert probs == [] and len(recs) == len(EXPECTED)
    assert recs[0].session == doc["data"]["sessionid"]
