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
