"""End to end: a real interactive xonsh in a pty, `xontrib load delta`, commands typed, then
`delta memory export` (a separate program) shows exactly what was recorded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from xonsh_pty import Xonsh, clean_env, export, write_rc

TOKEN = "ghp_" + "Zq8xY3wV5uT1sR7pO9nM2lK4jH6gF0dCbA1e"  # made-up, GitHub-token shaped


@pytest.fixture
def place(tmp_path: Path) -> Path:
    (tmp_path / "start").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", "-b", "feature", str(work)], check=True)
    else:  # the collector reads the files git writes; write them the same way
        (work / ".git").mkdir()
        (work / ".git" / "HEAD").write_text("ref: refs/heads/feature\n")
    return tmp_path


def test_typed_commands_are_recorded_exactly(place: Path) -> None:
    env = clean_env(place)
    rc = write_rc(place / "rc.xsh")
    sh = Xonsh(rc, env, place / "start")
    assert "hello-delta" in sh.run("echo hello-delta")
    assert "No such file" in sh.run("ls /nonexistent-delta-dir")
    sh.run(f'$GITHUB_TOKEN = "{TOKEN}"')
    assert "secret-but-spaced" in sh.run(" echo secret-but-spaced")
    sh.run("cd ../work")
    assert "after-cd" in sh.run("echo after-cd")
    sh.exit()
    assert sh.delta_lines() == []  # nothing went wrong, so Delta said nothing

    records = export(env)
    start, work = str(place / "start"), str(place / "work")
    got = [(r["command"], r["cwd"], r["exit"]) for r in records]
    assert got == [
        ("echo hello-delta", start, 0),
        ("ls /nonexistent-delta-dir", start, 2),
        ('$GITHUB_TOKEN = "<redacted:github-token>"', start, 0),
        ("cd ../work", start, 0),
        ("echo after-cd", work, 0),
    ]  # the leading-space command and `exit` are not there
    assert {r["session"] for r in records} == {records[0]["session"]}
    assert all(
        r["shell"] == "xonsh" and r["host"] == socket.gethostname() and r["user"] == env["USER"]
        for r in records
    )
    assert all(r["duration"] is not None and 0 <= r["duration"] < 30 for r in records)
    stamps = [r["timestamp"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert records[-1]["extra"] == {"git_root": work, "git_branch": "feature"}
    assert records[0]["extra"] == {}

    # The secret is nowhere on disk, in any file under the Delta root.
    for f in Path(env["DELTA_HOME"]).rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes(), f
            assert f.stat().st_mode & 0o077 == 0, f


def test_two_shells_at_once_both_record(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    rc = write_rc(tmp_path / "rc.xsh")
    a = Xonsh(rc, env, tmp_path)
    b = Xonsh(rc, env, tmp_path)
    for i in range(3):
        a.run(f"echo a{i}")
        b.run(f"echo b{i}")
    a.exit()
    b.exit()
    records = export(env)
    by_session: dict[str, list[str]] = {}
    for r in records:
        by_session.setdefault(r["session"], []).append(r["command"])
    assert sorted(by_session.values()) == [
        ["echo a0", "echo a1", "echo a2"],
        ["echo b0", "echo b1", "echo b2"],
    ]
    assert [r["command"] for r in records] == [
        f"echo {s}{i}" for i in range(3) for s in "ab"
    ]  # interleaved in time order


def test_each_command_is_stored_before_the_next_prompt(tmp_path: Path) -> None:
    # Read by another program while the shell is still open: no waiting for exit or a flush.
    # The first command may be typed while Delta is still starting; the start stores it a
    # moment after its prompt (test_start_without_waiting.py), so that one is waited for.
    # Every command after it is stored before its next prompt draws.
    env = clean_env(tmp_path)
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    sh.run("echo one")
    sh.until_stored(env, 1)
    assert [r["command"] for r in export(env)] == ["echo one"]
    sh.run("echo two")
    assert [r["command"] for r in export(env)] == ["echo one", "echo two"]
    sh.run("echo three")
    assert [r["command"] for r in export(env)] == ["echo one", "echo two", "echo three"]
    sh.exit()


def test_aliases_run_the_command_line_in_the_shell(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    sh.run("echo first")
    assert "version" in sh.run("delta --version")
    out = sh.run(":memory export")
    assert '"command": "echo first"' in out
    assert "delta --version" in out
    # a bad option is a one-line click error and a non-zero status; the shell goes on
    out = sh.run("delta memory export --no-such-option")
    assert "No such option" in out
    assert "still-alive" in sh.run("echo still-alive")
    # the session id is there for programs the shell runs
    sid = sh.run("echo $DELTA_SESSION").split()[-1]
    sh.exit()
    records = export(env)
    assert {r["session"] for r in records} == {sid}
    assert [(r["command"], r["exit"]) for r in records] == [
        ("echo first", 0),
        ("delta --version", 0),
        (":memory export", 0),
        ("delta memory export --no-such-option", 2),
        ("echo still-alive", 0),
        ("echo $DELTA_SESSION", 0),
    ]


def test_prompt_toolkit_shell_records_too(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    rc = write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit")
    sh = Xonsh(rc, env, tmp_path)
    sh.child.sendline("echo via-ptk")
    sh.child.expect_exact("via-ptk\r\n")
    sh.wait_prompt()
    sh.exit()
    assert [(r["command"], r["exit"]) for r in export(env)] == [("echo via-ptk", 0)]


def test_delta_home_set_at_the_prompt_is_used_by_the_alias(tmp_path: Path) -> None:
    # xonsh keeps $DELTA_HOME to itself (not in os.environ); the in-process CLI must see it.
    env = clean_env(tmp_path)
    other = tmp_path / "other"
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    sh.run("echo recorded")
    sh.run(f"$DELTA_HOME = '{other}'")
    out = sh.run("delta memory status --json")
    sh.exit()
    assert str(other) in out
    assert os.path.isdir(env["DELTA_HOME"])
