"""Settings are validated with ranges, and the Delta folder is checked before it is used:
owned by the user, writable by nobody else, no links out of it. Each problem is one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import delta, delta_env
from xonsh_pty import Xonsh, clean_env, export, write_rc

BAD = [
    ("[memory]\nmap_size_mb = -1\n", {}, "memory.map_size_mb must be between 1 and 65536"),
    ("[memory]\nmap_size_mb = 0\n", {}, "memory.map_size_mb must be between 1 and 65536"),
    ("[memory]\nmap_size_mb = 99999999999\n", {}, "memory.map_size_mb must be between"),
    ("", {"DELTA_MEMORY_MAP_SIZE_MB": "-5"}, "DELTA_MEMORY_MAP_SIZE_MB: memory.map_size_mb"),
    ("[memory]\nsync_interval = -5\n", {}, "memory.sync_interval must be between 0.05 and 3600"),
    ("[memory]\nsync_interval = nan\n", {}, "memory.sync_interval must be a finite number"),
    ("[memory]\nsync_interval = inf\n", {}, "memory.sync_interval must be a finite number"),
    ("", {"DELTA_MEMORY_SYNC_INTERVAL": "nan"}, "must be a finite number"),
    ("[serve]\ntimeout_ms = -1\n", {}, "serve.timeout_ms must be between 1 and 60000"),
    ("[serve]\nthreads = -4\n", {}, "serve.threads must be between 0 and 1024"),
    ("[train]\nmodel_size = 'huge'\n", {}, "'tiny', 'small' or 'base'"),
    (
        "[filters]\ndisabled = ['secretz']\n",
        {},
        "filters.disabled names 'secretz', which no plugin provides; known: ",
    ),
]


@pytest.mark.parametrize(("toml", "env_extra", "words"), BAD)
def test_a_bad_setting_is_one_line(tmp_path: Path, toml: str, env_extra: dict, words: str) -> None:
    home = tmp_path / "delta"
    home.mkdir(mode=0o700)
    if toml:
        (home / "config.toml").write_text(toml)
    # import loads the plugins too (filters.disabled is checked against them)
    got = delta(
        delta_env(home, **env_extra), "memory", "import", "--from", "jsonl", str(_empty(tmp_path))
    )
    assert got.returncode in (1, 2), (got.returncode, got.stdout, got.stderr)
    assert "Traceback" not in got.stderr
    (line,) = got.stderr.splitlines()
    assert words in line, line


def test_a_config_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "delta"
    (home / "config.toml").mkdir(parents=True)
    home.chmod(0o700)
    got = delta(delta_env(home), "memory", "status")
    assert got.returncode in (1, 2)
    (line,) = got.stderr.splitlines()
    assert line.endswith(f"{home / 'config.toml'} is a directory, not a config file: remove it")


@pytest.mark.parametrize("kind", ["file", "under-proc"])
def test_a_home_that_cannot_be_a_folder_is_one_line(tmp_path: Path, kind: str) -> None:
    if kind == "file":
        home = tmp_path / "delta"
        home.write_text("")
        words = "is a file, not a directory"
    else:
        home, words = Path("/proc/no-such-dir/delta"), "does not exist and cannot be created"
    got = delta(delta_env(home), "memory", "status")
    assert got.returncode in (1, 2) and "Traceback" not in got.stderr, got.stderr
    (line,) = got.stderr.splitlines()
    assert f"DELTA_HOME {home} {words}" in line


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.jsonl"
    path.write_text("")
    return path


def _others(path: Path) -> None:
    """Give ``path`` (and what is in it) to another user, as that user would have made it."""
    for p in [path, *path.rglob("*")]:
        os.lchown(p, 65534, 65534)


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to make another user's files")


@needs_root
def test_another_users_writable_home_is_refused_and_its_config_never_obeyed(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    home.mkdir()
    (home / "config.toml").write_text('[filters]\ndisabled = ["secrets"]\n')
    _others(home)
    home.chmod(0o777)
    src = tmp_path / "h.jsonl"
    src.write_text(json.dumps({"command": "export GITHUB_TOKEN=ghp_" + "a1B2" * 9}) + "\n")
    got = delta(delta_env(home), "memory", "import", "--from", "jsonl", str(src))
    assert got.returncode in (1, 2)
    assert got.stderr.strip().endswith(
        f"DELTA_HOME {home} belongs to uid 65534, not to you (uid 0): use a folder of your own"
    )
    assert not (home / "memory").exists()  # nothing was stored there, in clear or not
    os.lchown(home, 0, 0)  # now ours, but still writable by anyone
    got = delta(delta_env(home), "memory", "status")
    assert f"can be written by others (mode 0777): run `chmod 700 {home}`" in got.stderr


@needs_root
def test_a_log_link_planted_in_the_home_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim" / ".bashrc"
    victim.parent.mkdir()
    victim.write_text("# the victim's bashrc\n")
    home = tmp_path / "delta"
    home.mkdir(mode=0o700)
    (home / "delta.log").symlink_to(victim)
    got = delta(delta_env(home), "memory", "import", "--from", "jsonl", str(_empty(tmp_path)))
    assert got.returncode in (1, 2)
    assert f"{home / 'delta.log'} is a symbolic link (to {victim})" in got.stderr
    assert victim.read_text() == "# the victim's bashrc\n"
    # and the log itself never follows a link, whoever planted it when
    from delta_core import log

    log.problem("a line for the log", home / "delta.log")
    assert victim.read_text() == "# the victim's bashrc\n"


@needs_root
def test_a_home_that_links_into_another_users_folder_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    _others(theirs)
    home = tmp_path / "delta"
    home.symlink_to(theirs)
    got = delta(delta_env(home), "memory", "status")
    assert got.returncode in (1, 2) and "belongs to uid 65534, not to you" in got.stderr
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    other_home = tmp_path / "delta2"
    other_home.symlink_to(mine)  # a link to a folder of one's own is fine
    assert delta(delta_env(other_home), "memory", "status").returncode == 0


def test_xonsh_with_an_unsafe_home_says_one_line_and_the_shell_works(tmp_path: Path) -> None:
    home = tmp_path / "delta"
    home.mkdir()
    home.chmod(0o777)
    env = clean_env(tmp_path, delta_home=home, DELTA_SERVE_AUTO_START="0")
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    assert "still-works" in sh.run("echo still-works")
    assert "again" in sh.run("echo again")
    sh.exit()
    lines = sh.delta_lines()
    assert len(lines) == 1 and "can be written by others" in lines[0], lines
    home.chmod(0o700)
    assert export(env) == []
