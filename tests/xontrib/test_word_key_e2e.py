"""End to end: in a real xonsh (prompt_toolkit, in a pty) Ctrl-Right and Alt-F take the ghost
text one word at a time, as fish's and zsh-autosuggestions' forward-word do."""

from __future__ import annotations

import time
from pathlib import Path

from xonsh_pty import Xonsh, clean_env, write_rc

from delta_core.memory.store import Store
from delta_core.records.record import Record

SEEDED = "echo alpha beta gamma"


def seed(delta_home: Path) -> None:
    now = time.time_ns() - 3600 * 10**9
    with Store(delta_home) as store:
        store.add_many([Record(SEEDED, now, cwd="/tmp", exit=0, session="old")])


def _shell(tmp_path: Path) -> Xonsh:
    (tmp_path / "start").mkdir()
    env = clean_env(tmp_path)
    seed(Path(env["DELTA_HOME"]))
    extra = "$XONSH_PROMPT_AUTO_SUGGEST = True\n"
    rc = write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit", extra=extra)
    sh = Xonsh(rc, env, tmp_path / "start", timeout=60)
    sh.warm_up(4)  # the recorder opens the memory after the first prompt
    return sh


def _type(sh: Xonsh, text: str) -> None:
    for ch in text:
        sh.child.send(ch)
        time.sleep(0.3)


def test_forward_word_keys_take_the_ghost_text_word_by_word(tmp_path: Path) -> None:
    sh = _shell(tmp_path)
    _type(sh, "echo al")
    sh.child.expect_exact("pha beta gamma")  # the ghost text, from the memory
    sh.child.send("\x1b[1;5C")  # Ctrl-Right: "pha" only
    time.sleep(0.5)
    sh.child.send("\x1bf")  # Alt-F: " beta"
    time.sleep(0.5)
    _type(sh, " zzz")
    sh.child.send("\r")
    sh.child.expect_exact("alpha beta zzz\r\n")  # echo's output: two words taken, then typed
    sh.wait_prompt()
    sh.exit()
    assert sh.delta_lines() == []
