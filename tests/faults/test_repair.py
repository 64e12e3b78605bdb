"""Every documented repair repairs: real LMDB files damaged the way disks and people damage
them, repaired by the commands the README names (``verify``, ``reindex``, ``restore``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import delta, delta_env

DAY_STAMP = 1_764_000_000  # 2025-11-24, all records within one local day (2 minutes)


def _import(env: dict[str, str], tmp: Path, n: int = 146, stamp: int = DAY_STAMP) -> None:
    src = tmp / f"in-{stamp}.jsonl"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "command": f"make target-{i:04d}",
                    "timestamp": datetime.fromtimestamp(stamp + i, UTC).isoformat(),
                    "exit": 0,
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    got = delta(env, "memory", "import", "--from", "jsonl", str(src))
    assert got.returncode == 0, got.stderr


def _status(env: dict[str, str]) -> dict:
    got = delta(env, "memory", "status", "--json")
    assert got.returncode == 0 and "Traceback" not in got.stderr, got.stderr
    return json.loads(got.stdout)


def _one_day(home: Path) -> Path:
    (day,) = [p for p in (home / "memory" / "shards").iterdir()]
    return day


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return delta_env(tmp_path / "delta")


def _destroy_index(home: Path) -> None:
    # what the issue ran: dd if=/dev/urandom of=index/data.mdb bs=4096 seek=1 count=20
    with open(home / "memory" / "index" / "data.mdb", "r+b") as f:
        f.seek(4096)
        f.write(os.urandom(20 * 4096))


def test_verify_rebuilds_a_destroyed_index(env, tmp_path) -> None:
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    _destroy_index(home)
    got = delta(env, "memory", "verify")
    assert "Traceback" not in got.stderr, got.stderr
    assert got.returncode == 1  # something was wrong, and it says what
    assert "index: damaged" in got.stdout and "index rebuilt from the shards" in got.stdout
    assert delta(env, "memory", "verify").returncode == 0
    st = _status(env)
    assert st["records"] == 146 and st["distinct_commands"] == 146


def test_reindex_and_every_reader_survive_a_destroyed_index(env, tmp_path) -> None:
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    _destroy_index(home)
    got = delta(env, "memory", "reindex")
    assert got.returncode == 0 and "Traceback" not in got.stderr, got.stderr
    assert "indexed 146 records" in got.stdout
    _destroy_index(home)
    # a reader meeting it rebuilds it, says so in one line, and answers
    got = delta(env, "memory", "search", "target-0001", "--json")
    assert got.returncode == 0 and "Traceback" not in got.stderr, got.stderr
    assert [h["command"] for h in json.loads(got.stdout)] == ["make target-0001"]
    assert got.stderr.count("delta: the index was damaged") == 1
    assert list((home / "memory" / "quarantine").glob("index-*"))  # the old one kept aside
    assert _status(env)["distinct_commands"] == 146


def test_readers_skip_and_report_what_is_not_a_day(env, tmp_path) -> None:
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    shards = home / "memory" / "shards"
    (shards / "notes.txt").write_text("mine\n")
    (shards / "2020-01-01").write_text("a file where a day folder belongs\n")
    got = delta(env, "memory", "export")
    assert got.returncode == 0 and "Traceback" not in got.stderr, got.stderr
    assert len(got.stdout.splitlines()) == 146
    assert "2020-01-01 is not a day shard; skipped" in got.stderr
    assert "notes.txt is not a day shard; skipped" in got.stderr
    for args in (("memory", "list", "--json"), ("memory", "status"), ("suggest", "make")):
        got = delta(env, *args)
        assert got.returncode == 0 and "Traceback" not in got.stderr, (args, got.stderr)
    assert len(json.loads(delta(env, "memory", "list", "--json").stdout)) == 20
    got = delta(env, "memory", "verify")
    assert "shards/2020-01-01: not a day shard" in got.stdout


def test_a_zero_length_shard_is_reported_never_healthy(env, tmp_path) -> None:
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    (_one_day(home) / "data.mdb").write_bytes(b"")
    got = delta(env, "memory", "verify")
    assert got.returncode == 1, got.stdout
    assert "damaged (data.mdb is empty (0 bytes): its records are gone)" in got.stdout
    assert "0 days healthy" in got.stdout


def _flip_byte_in(day: Path, needle: bytes) -> None:
    data = bytearray((day / "data.mdb").read_bytes())
    at = data.index(needle)
    data[at + len(needle) - 1] ^= 0x01
    (day / "data.mdb").write_bytes(bytes(data))


def test_quarantine_keeps_the_intact_records_of_a_damaged_day(env, tmp_path) -> None:
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    _flip_byte_in(_one_day(home), b"make target-0077")
    got = delta(env, "memory", "verify", "--json")
    assert got.returncode == 1
    report = json.loads(got.stdout)
    (day,) = report["bad"]
    assert report["salvaged"][day] == {"kept": 145, "lost": 1}
    commands = [
        json.loads(ln)["command"] for ln in delta(env, "memory", "export").stdout.splitlines()
    ]
    assert len(commands) == 145 and "make target-0077" not in commands
    assert _status(env)["distinct_commands"] == 145
    assert delta(env, "memory", "verify").returncode == 0


def test_restore_brings_a_quarantined_day_back(env, tmp_path) -> None:
    """A day set aside whole (as verify did before salvage existed) comes back with restore."""
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    _import(env, tmp_path, n=10, stamp=DAY_STAMP + 5 * 86400)
    first = home / "memory" / "shards" / sorted(os.listdir(home / "memory" / "shards"))[0]
    quarantine = home / "memory" / "quarantine"
    quarantine.mkdir(mode=0o700)
    shutil.move(first, quarantine / f"{first.name}-20260101T000000")
    assert delta(env, "memory", "reindex").returncode == 0
    assert _status(env)["records"] == 10
    listed = delta(env, "memory", "restore")
    assert listed.stdout.split() == [f"{first.name}-20260101T000000"]
    got = delta(env, "memory", "restore", f"{first.name}-20260101T000000")
    assert got.returncode == 0, got.stderr
    assert "restored 146 records" in got.stdout
    st = _status(env)
    assert st["records"] == 156 and st["distinct_commands"] == 146  # 10 repeat the first 10
    assert not list(quarantine.iterdir())
    got = delta(env, "memory", "restore", "no-such-day")
    assert got.returncode == 1 and "no quarantined day 'no-such-day'" in got.stderr


def test_a_permission_error_is_reported_as_such_not_as_damage(env, tmp_path) -> None:
    home = Path(env["DELTA_HOME"])
    _import(env, tmp_path)
    data = _one_day(home) / "data.mdb"
    os.chown(data, 65534, 65534)  # another user's file, 0600: this user cannot read it
    # as root the test drops every capability, so the kernel's permission check applies
    nocaps = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all"]
    if os.getuid() != 0:
        pytest.skip("needs root to give a file to another user")
    got = subprocess.run(
        [*nocaps, *delta_cmd(), "memory", "verify"], env=env, capture_output=True, text=True
    )
    assert got.returncode == 1, got.stdout + got.stderr
    assert "not readable, not damaged: permission denied" in got.stdout, got.stdout
    assert data.exists() and not (home / "memory" / "quarantine").exists()  # nothing moved
    got = subprocess.run(
        [*nocaps, *delta_cmd(), "memory", "export"], env=env, capture_output=True, text=True
    )
    assert got.returncode == 1 and "permission denied" in got.stderr, got.stderr
    assert "Traceback" not in got.stderr


def delta_cmd() -> list[str]:
    import sys

    return [sys.executable, "-c", "from delta_core.cli import main; main()"]
