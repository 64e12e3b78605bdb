"""A full disk is an error, never a signal: ``disk full: N MB free under $DELTA_HOME``.

LMDB's write-through memory map (MDB_WRITEMAP) turned a page written into a hole of its
sparse data file on a full file system into SIGBUS: the shell died at its next command and
every CLI write died with ``Bus error`` (rc 135). Each test here fills a real tmpfs (see
conftest.py) and runs the writer in its own process, so the old behaviour fails the test
instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

from conftest import delta, delta_env, fill
from xonsh_pty import Xonsh, clean_env, export, write_rc


def _jsonl(path: Path, n: int, start: int = 0, stamp: int = 1_764_000_000) -> Path:
    """``n`` records in the export format, one second apart from ``stamp``."""
    lines = [
        json.dumps(
            {
                "command": f"make target-{i}",
                "timestamp": datetime.fromtimestamp(stamp + i, UTC).isoformat(),
                "cwd": "/home/ada",
                "exit": 0,
            }
        )
        for i in range(start, start + n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_writes_on_a_full_disk_say_disk_full_and_keep_what_was_stored(
    small_fs: Path, tmp_path: Path
) -> None:
    home = small_fs / "delta"
    env = delta_env(home)
    first = _jsonl(tmp_path / "first.jsonl", 200)
    assert delta(env, "memory", "import", "--from", "jsonl", str(first)).returncode == 0
    filler = fill(small_fs)
    more = _jsonl(tmp_path / "more.jsonl", 5000, start=200)
    for args in (
        ("memory", "import", "--from", "jsonl", str(more)),
        ("memory", "reindex"),
        ("memory", "forget", "-y", "target-1"),
    ):
        got = delta(env, *args)
        assert got.returncode != -signal.SIGBUS, f"{args}: killed by SIGBUS"
        assert got.returncode == 1, (args, got.returncode, got.stderr)
        assert got.stderr.startswith("delta: disk full: "), (args, got.stderr)
        assert f"MB free under {home}" in got.stderr
        assert "Traceback" not in got.stderr
    # nothing already stored was lost, and the index still has it all
    status = json.loads(delta(env, "memory", "status", "--json").stdout)
    assert status["records"] == 200 and status["distinct_commands"] == 200
    filler.unlink()  # space returns: the same import now works
    got = delta(env, "memory", "import", "--from", "jsonl", str(more))
    assert got.returncode == 0, got.stderr
    status = json.loads(delta(env, "memory", "status", "--json").stdout)
    assert status["records"] == 5200 and status["distinct_commands"] == 5200
    assert delta(env, "memory", "verify").returncode == 0


def test_a_new_day_on_a_full_disk_is_an_error_not_a_signal(small_fs: Path, tmp_path: Path) -> None:
    """Opening a day that has no shard yet maps a fresh lock file: that must not SIGBUS."""
    home = small_fs / "delta"
    env = delta_env(home)
    assert (
        delta(
            env, "memory", "import", "--from", "jsonl", str(_jsonl(tmp_path / "a", 10))
        ).returncode
        == 0
    )
    filler = fill(small_fs)
    other_day = _jsonl(tmp_path / "b", 10, stamp=1_700_000_000)
    got = delta(env, "memory", "import", "--from", "jsonl", str(other_day))
    assert got.returncode == 1 and "disk full: " in got.stderr, (got.returncode, got.stderr)
    filler.unlink()
    assert delta(env, "memory", "verify").returncode == 0  # no half-made day left behind
    got = delta(env, "memory", "import", "--from", "jsonl", str(other_day))
    assert got.returncode == 0, got.stderr


def test_xonsh_on_a_full_disk_warns_once_and_records_again_when_space_returns(
    small_fs: Path,
) -> None:
    base = small_fs.parent
    env = clean_env(base, delta_home=small_fs / "delta", DELTA_SERVE_AUTO_START="0")
    sh = Xonsh(write_rc(base / "rc.xsh"), env, base)
    assert "before-full" in sh.run("echo before-full")
    sh.until_stored(env)
    filler = fill(small_fs)
    for i in range(3):
        assert f"while-full-{i}" in sh.run(f"echo while-full-{i}")
    assert sh.child.isalive(), "the shell died on a full disk"
    os.unlink(filler)
    assert "after-full" in sh.run("echo after-full")
    sh.exit()
    warnings = [ln for ln in sh.delta_lines() if "disk full" in ln]
    assert len(warnings) == 1, sh.delta_lines()
    assert f"MB free under {small_fs / 'delta'}" in warnings[0]
    got = [r["command"] for r in export(env)]
    # the commands typed while the disk was full were kept and stored when space returned
    assert got == [
        "echo before-full",
        "echo while-full-0",
        "echo while-full-1",
        "echo while-full-2",
        "echo after-full",
    ]
