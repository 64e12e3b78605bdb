"""A real xonsh with Delta loaded, and a fault made under it while it runs: one fault is one
``delta:`` line, however many parts of Delta meet it (the recorder, the history suggester,
the suggestion feedback, the group fsync), and the shell goes on.

The faults are real: the index file overwritten with random pages (the ``dd`` of issue
14), the Delta home replaced by a file (what a home made unreadable looks like to root,
whom permission bits do not stop).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.xontrib.xonsh_pty import Xonsh, clean_env, write_rc


def _shell(tmp_path: Path) -> tuple[Xonsh, Path]:
    env = clean_env(tmp_path)
    rc = write_rc(tmp_path / "rc.xsh", extra="$DELTA_SUGGEST = True\n")
    sh = Xonsh(rc, env, tmp_path)
    for i in range(3):
        assert f"before-{i}" in sh.run(f"echo before-{i}")
    time.sleep(1)  # recorded and synced
    return sh, Path(env["DELTA_HOME"])


def _break_index(home: Path) -> None:
    subprocess.run(
        [
            *("dd", "if=/dev/urandom", f"of={home}/memory/index/data.mdb"),
            *("bs=4096", "seek=1", "count=20", "conv=notrunc"),
        ],
        check=True,
        capture_output=True,
    )


def _replace_home(home: Path) -> None:
    shutil.rmtree(home)
    home.write_text("not a directory any more\n")


@pytest.mark.parametrize("fault", [_break_index, _replace_home], ids=["index", "home"])
def test_a_fault_under_the_shell_is_one_warning_and_the_shell_goes_on(tmp_path, fault):
    sh, home = _shell(tmp_path)
    fault(home)
    for i in range(4):
        assert f"after-{i}" in sh.run(f"echo after-{i}")  # each command still runs
    assert "still-alive" in sh.run("echo still-alive")
    sh.exit()
    lines = sh.delta_lines()
    assert len(lines) == 1, lines


@pytest.fixture(scope="module")
def model_home(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    from tests.core.serve_helpers import promoted_model

    base = tmp_path_factory.mktemp("served")
    promoted_model(base / "delta", base / "work")
    return base / "delta"


def test_a_killed_server_is_restarted_under_a_running_shell(tmp_path, model_home):
    import os
    import signal

    from delta_core.paths import Layout
    from delta_core.serve.launch import status, stop
    from tests.conftest import wait_for

    home = tmp_path / "delta"
    shutil.copytree(model_home, home)
    env = clean_env(tmp_path, delta_home=home, DELTA_SERVE_IDLE_EXIT_S="60")
    env.pop("XDG_RUNTIME_DIR", None)
    layout = Layout(home)
    sh = Xonsh(write_rc(tmp_path / "rc.xsh", extra="$DELTA_SUGGEST = True\n"), env, tmp_path)
    try:
        sh.run("echo one")  # the shell's engine is built and starts the server
        assert wait_for(lambda: status(layout) is not None, 90), "the shell started no server"
        first = status(layout)["pid"]
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: status(layout) is None, 10)
        assert (home / "serve.pid").exists()  # what a killed server leaves behind
        for i in range(3):  # a few commands: each asks for the next one
            assert f"after-{i}" in sh.run(f"echo after-{i}")
            time.sleep(0.6)
        assert wait_for(lambda: (status(layout) or {}).get("pid") not in (None, first), 90), (
            "the killed server was not restarted"
        )
        sh.exit()
        assert sh.delta_lines() == []
    finally:
        stop(layout)
