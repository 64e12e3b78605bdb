"""A real xonsh: `xontrib unload delta` leaves nothing behind, and a broken memory never breaks
the shell (the command runs, the prompt comes back, Delta says one line at most)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from xonsh_pty import Xonsh, clean_env, export, write_rc

# Everything a xontrib could add. The snapshot is taken at the prompt, because xonsh itself
# adds a handler of its own (on_chdir) between the rc file and the first prompt.
SNAPSHOT = """
import threading as _th
def _delta_state():
    evs = {n: len(list(getattr(events, n))) for n in dir(events) if n.startswith('on_')}
    return (set(aliases), set(${...}.keys()), evs)
"""

CHECK = (
    "_a, _e, _v = _delta_state(); _a0, _e0, _v0 = _delta_before; "
    "print('ALIASES', sorted(_a ^ _a0)); print('VARS', sorted(_e ^ _e0)); "
    "print('HANDLERS', {n: c for n, c in _v.items() if c != _v0.get(n, 0)}); "
    "print('THREADS', sorted(t.name for t in _th.enumerate() if t.name.startswith('delta')))"
)


def test_unload_removes_every_handler_alias_and_variable(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    rc = write_rc(tmp_path / "rc.xsh", extra=SNAPSHOT, load=False)
    sh = Xonsh(rc, env, tmp_path)
    sh.run("_delta_before = _delta_state()")
    sh.run("xontrib load delta")
    loaded = sh.run(CHECK)
    # while loaded, the additions are visible (so the check below can fail)
    assert "'delta'" in loaded and "':memory'" in loaded and "'DELTA_SESSION'" in loaded
    assert "on_precommand" in loaded and "on_postcommand" in loaded
    sh.run("echo while-loaded")
    sh.run("xontrib unload delta")
    after = sh.run(CHECK)
    assert "ALIASES []" in after
    assert "VARS []" in after
    assert "HANDLERS {}" in after
    assert "THREADS []" in after
    assert "in-aliases False" in sh.run("print('in-aliases', ':memory' in aliases)")
    sh.run("echo after-unload")
    sh.run("xontrib load delta")  # loading again works and records again
    sh.run("echo reloaded")
    sh.exit()
    assert sh.delta_lines() == []
    commands = [r["command"] for r in export(env)]
    assert "echo while-loaded" in commands
    assert "echo after-unload" not in commands
    assert commands[-1] == "echo reloaded"


def test_unload_restores_an_alias_the_user_had(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    rc = write_rc(tmp_path / "rc.xsh", extra="aliases['delta'] = 'echo users-own-delta'\n")
    sh = Xonsh(rc, env, tmp_path)
    assert "version" in sh.run("delta --version")
    sh.run("xontrib unload delta")
    assert "users-own-delta" in sh.run("delta")
    sh.exit()


def _assert_shell_survives(sh: Xonsh) -> None:
    for i in range(3):
        assert f"still-works-{i}" in sh.run(f"echo still-works-{i}")
    assert "No such file" in sh.run("ls /nonexistent-delta-dir")
    sh.exit()
    lines = sh.delta_lines()
    assert len(lines) == 1, lines  # said once, in one line, not once per command
    print(lines[0])


def test_unwritable_delta_home_one_line_and_the_shell_goes_on(tmp_path: Path) -> None:
    # A regular file where the Delta root should be: no directory can be made under it,
    # whoever runs the test (chmod does not stop root).
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    env = clean_env(tmp_path, delta_home=blocker / "delta")
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    _assert_shell_survives(sh)
    assert "Not a directory" in sh.delta_lines()[0]


def test_corrupted_shard_one_line_and_the_shell_goes_on(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    shard = Path(env["DELTA_HOME"]) / "memory" / "shards" / time.strftime("%Y-%m-%d")
    shard.mkdir(parents=True, mode=0o700)
    (shard / "data.mdb").write_bytes(os.urandom(64 * 1024))
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    _assert_shell_survives(sh)


def test_invalid_config_one_line_and_the_shell_goes_on(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    root = Path(env["DELTA_HOME"])
    root.mkdir(mode=0o700)
    (root / "config.toml").write_text("[memory\nrecord = maybe\n")
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    _assert_shell_survives(sh)
    assert "config.toml" in sh.delta_lines()[0]


def test_failing_collector_plugin_is_reported_once_and_commands_still_recorded(
    tmp_path: Path,
) -> None:
    # A collector that raises, installed as a third party's is: a module and a dist-info with
    # its entry point in group `delta`, on the path (what `pip install` would leave).
    plug = tmp_path / "plug"
    plug.mkdir()
    (plug / "bad_collector.py").write_text(
        "from delta_core.plugin.hookspecs import hookimpl\n"
        "class Bad:\n"
        "    name = 'bad'\n"
        "    def collect(self, cwd, env):\n"
        "        raise RuntimeError('collector exploded')\n"
        "@hookimpl\n"
        "def delta_register_collectors(register):\n"
        "    register(Bad())\n"
    )
    info = plug / "bad_collector-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-collector\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[delta]\nbad_collector = bad_collector\n")
    env = clean_env(tmp_path, PYTHONPATH=str(plug))
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path)
    _assert_shell_survives(sh)
    assert "collector exploded" in sh.delta_lines()[0]
    commands = [r["command"] for r in export(env)]
    assert commands[:3] == [f"echo still-works-{i}" for i in range(3)]
