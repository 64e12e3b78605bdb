"""Recording never stops in silence: after a fault under a running shell the next command is
recorded (fresh shard, recreated home), the index catches up by itself after a killed import,
nothing in a history is merged away, and an export that missed a day says so."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from conftest import delta, delta_env
from xonsh_pty import Xonsh, clean_env, export, write_rc


def _shell(base: Path) -> tuple[Xonsh, dict[str, str]]:
    env = clean_env(base, DELTA_SERVE_AUTO_START="0")
    return Xonsh(write_rc(base / "rc.xsh"), env, base), env


def test_a_day_damaged_under_a_running_shell_goes_on_in_a_fresh_shard(tmp_path: Path) -> None:
    sh, env = _shell(tmp_path)
    for i in range(5):
        sh.run(f"echo before-{i}")
    sh.until_stored(env, 5)
    shards = Path(env["DELTA_HOME"]) / "memory" / "shards"
    assert len(os.listdir(shards)) == 1  # today
    (day,) = shards.iterdir()
    with open(day / "data.mdb", "r+b") as f:  # both meta pages destroyed
        f.write(os.urandom(8192))
    for i in range(3):
        assert f"after-{i}" in sh.run(f"echo after-{i}")
    sh.exit()
    lines = sh.delta_lines()
    assert len(lines) == 1 and "was damaged" in lines[0] and "recording goes on" in lines[0], lines
    got = [r["command"] for r in export(env)]
    # the five before were salvaged from the damaged file, the three after recorded anew
    assert got == [f"echo before-{i}" for i in range(5)] + [f"echo after-{i}" for i in range(3)]


def test_a_home_removed_under_a_running_shell_is_made_again(tmp_path: Path) -> None:
    sh, env = _shell(tmp_path)
    sh.run("echo first")
    home = Path(env["DELTA_HOME"])
    sh.until_stored(env)
    assert (home / "memory" / "shards").is_dir()
    shutil.rmtree(home)  # what `rm -rf $DELTA_HOME` does
    for word in ("second", "third"):
        assert word in sh.run(f"echo {word}")
    sh.exit()
    lines = sh.delta_lines()
    assert len(lines) == 1 and "was removed while in use" in lines[0], lines
    assert (home / "delta.log").read_text().count("was removed while in use") == 1
    assert [r["command"] for r in export(env)] == ["echo second", "echo third"]
    assert (home.stat().st_mode & 0o777) == 0o700


HOLDING_IMPORT = """
import sys, time
from delta_core.memory.encoded_batch import encode_batch
from delta_core.memory.store import Store
from delta_core.records.record import Record

store = Store(sys.argv[1])
records = [Record(f"make target-{i}", 1_700_000_000_000_000_000 + i * 10**9) for i in range(500)]
store.add_encoded(encode_batch(records), fold=False)  # stored, not yet in the index
print("stored", flush=True)
time.sleep(600)
"""


def test_the_index_catches_up_by_itself_after_a_killed_concurrent_import(tmp_path: Path) -> None:
    env = delta_env(tmp_path / "delta")
    held = subprocess.Popen(
        [sys.executable, "-c", HOLDING_IMPORT, env["DELTA_HOME"]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert held.stdout.readline().strip() == "stored"
        other = tmp_path / "other.jsonl"
        other.write_text(
            "".join(
                json.dumps(
                    {
                        "command": f"other {i}",
                        "timestamp": datetime.fromtimestamp(1_700_100_000 + i, UTC).isoformat(),
                    }
                )
                + "\n"
                for i in range(100)
            )
        )
        # another import runs to its end meanwhile
        assert delta(env, "memory", "import", "--from", "jsonl", str(other)).returncode == 0
    finally:
        held.send_signal(signal.SIGKILL)
        held.wait()
    got = delta(env, "memory", "status", "--json")
    assert got.returncode == 0, got.stderr
    status = json.loads(got.stdout)
    assert status["records"] == 600
    assert status["distinct_commands"] == 600  # not 100: nobody had to run verify
    assert "rebuilding the index" in got.stderr
    hits = json.loads(delta(env, "memory", "search", "target-49", "--json").stdout)
    assert "make target-49" in [h["command"] for h in hits]


def test_identical_commands_within_one_second_of_a_history_stay_distinct(tmp_path: Path) -> None:
    env = delta_env(tmp_path / "delta")
    t = 1_700_000_000
    bash = tmp_path / "bash_history"
    bash.write_text(f"#{t}\nls\n#{t}\nls\n#{t}\npwd\n#{t}\nls\n#{t + 1}\nls\n")
    zsh = tmp_path / "zsh_history"
    zsh.write_text(f": {t + 5}:0;git status\n: {t + 5}:0;git status\n: {t + 6}:0;git status\n")
    for fmt, path, n in (("bash", bash, 5), ("zsh", zsh, 3)):
        got = delta(env, "memory", "import", "--from", fmt, str(path), "--json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)[0]["added"] == n, got.stdout
        again = delta(env, "memory", "import", "--from", fmt, str(path), "--json")
        assert json.loads(again.stdout)[0]["added"] == 0  # re-importing adds nothing
    records = [json.loads(ln) for ln in delta(env, "memory", "export").stdout.splitlines()]
    assert sorted(r["command"] for r in records) == ["git status"] * 3 + ["ls"] * 4 + ["pwd"]


def test_export_exits_non_zero_when_a_day_could_not_be_read(tmp_path: Path) -> None:
    env = delta_env(tmp_path / "delta")
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "command": f"day {d} cmd",
                    "timestamp": datetime.fromtimestamp(1_700_000_000 + d * 86400, UTC).isoformat(),
                }
            )
            + "\n"
            for d in range(3)
        )
    )
    assert delta(env, "memory", "import", "--from", "jsonl", str(src)).returncode == 0
    shards = Path(env["DELTA_HOME"]) / "memory" / "shards"
    middle = sorted(shards.iterdir())[1]
    with open(middle / "data.mdb", "r+b") as f:
        f.write(os.urandom(8192))
    out = tmp_path / "backup.jsonl"
    got = delta(env, "memory", "export", "-o", str(out))
    assert got.returncode == 1, got.stderr
    assert f"export incomplete: 1 day(s) could not be read ({middle.name})" in got.stderr
    assert len(out.read_text().splitlines()) == 2  # the readable days are all there


def test_a_store_writes_into_a_root_made_again_however_often(tmp_path: Path) -> None:
    """The new lock file may get the deleted one's inode number: removal is noticed anyway."""
    from delta_core.memory.store import Store
    from delta_core.records.record import Record

    root = tmp_path / "delta"
    store = Store(root)
    for i in range(5):
        store.add(Record(f"before removal {i}", (1_764_000_000 + 2 * i) * 10**9))
        shutil.rmtree(root)
        store.add(Record(f"after removal {i}", (1_764_000_001 + 2 * i) * 10**9))
        store.sync()
        got = delta(delta_env(root), "memory", "export")
        assert [json.loads(ln)["command"] for ln in got.stdout.splitlines()] == [
            f"after removal {i}"
        ]
    store.close()


def test_a_private_write_survives_its_folder_removed_midway(tmp_path: Path, monkeypatch) -> None:
    """The race behind a shell's ``rm -rf $DELTA_HOME``: the folder goes between its creation
    and the write. The race cannot be timed for real, so the first open removes the folder
    (a fake, said here); the write must still land, 0600, in a folder made again."""
    from delta_core import paths

    target = tmp_path / "delta" / "run" / "last-suggestion-1"
    real_open = os.open
    removed = []

    def open_after_removal(path, *args, **kwargs):
        if not removed:
            removed.append(path)
            shutil.rmtree(tmp_path / "delta")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(paths.os, "open", open_after_removal)
    paths.write_private(target, "git push")
    assert removed and target.read_text() == "git push"
    assert target.stat().st_mode & 0o777 == 0o600
    assert (target.parent.stat().st_mode & 0o777) == 0o700
