"""End to end: in a real xonsh (prompt_toolkit shell, in a pty) the search key opens the
interactive search; typing filters, the hit's directory and neighbours are shown, Enter puts
the command on the prompt, and a second Enter runs it. Uses the model-free ``hashing``
embedder so the shell answers at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from xonsh_pty import PROMPT, Xonsh, clean_env, write_rc

from delta_core.memory.store import Store
from delta_core.records.record import Record

pytest.importorskip("usearch")
TARGET = "echo found-by-delta-search-42"


def seed(delta_home: Path) -> None:
    now = time.time_ns() - 3600 * 10**9
    cmds = ["cd /srv/app", TARGET, "make deploy", "ls -la", "git status"]
    with Store(delta_home) as store:
        store.add_many(
            [
                Record(c, now + i * 10**9, cwd="/srv/app", exit=0, session="old")
                for i, c in enumerate(cmds)
            ]
        )


def test_search_key_puts_the_chosen_command_on_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "start").mkdir()
    env = clean_env(tmp_path, DELTA_SEARCH_EMBEDDER="hashing")
    seed(Path(env["DELTA_HOME"]))
    rc = write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit")
    sh = Xonsh(rc, env, tmp_path / "start", timeout=60)
    sh.child.send("\x13")  # Ctrl-S
    sh.child.expect_exact("search>")
    sh.child.send("found by delta")
    sh.child.expect_exact("/srv/app")  # the hit's directory, then its session around it
    sh.child.expect_exact("make deploy")
    sh.child.send("\r")  # choose: the command lands on the prompt, not yet run
    sh.child.expect_exact(PROMPT)
    sh.child.expect_exact(TARGET)
    sh.child.sendline("")  # Enter runs what is on the prompt: echo's output, not its input
    sh.child.expect(r"(?<!echo )found-by-delta-search-42")
    sh.wait_prompt()
    sh.exit()
    assert sh.delta_lines() == []


def test_unload_removes_the_search_key(tmp_path: Path) -> None:
    (tmp_path / "start").mkdir()
    env = clean_env(tmp_path, DELTA_SEARCH_EMBEDDER="hashing")
    rc = write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit")
    sh = Xonsh(rc, env, tmp_path / "start", timeout=60)
    probe = (
        "print('KB' + '=' + str(len([b for b in __xonsh__.shell.shell.key_bindings.bindings "
        "if getattr(b.handler, '__name__', '') == '_open_over_prompt'])))"
    )

    def bound() -> int:
        sh.child.sendline(probe)
        sh.child.expect(r"KB=(\d+)")  # the output, not the typed line (that has KB' + '=)
        n = int(sh.child.match.group(1))
        sh.wait_prompt()
        return n

    assert bound() == 1
    sh.run("xontrib unload delta")
    assert bound() == 0
    sh.exit()
