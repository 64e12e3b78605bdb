"""End to end: a real xonsh (prompt_toolkit) shows a model's completion as ghost text.

A tiny model is trained for real (sentencepiece tokenizer, torch training loop) on a history
where ``make build-zeta`` always follows ``cd proj``, registered and promoted. The history
suggester is switched off (``DELTA_DISABLE_PLUGINS``) and xonsh's own history is empty, so
ghost text can only come from the model.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pexpect
import pytest
from xonsh_pty import Xonsh, clean_env, write_rc

from delta_core.learn.deploy import promote
from delta_core.learn.eval.model import train_eval_model
from delta_core.learn.registry import register_model
from delta_core.paths import Layout
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.records.record import Record

pytest.importorskip("torch")


def _promoted_model(root: Path, work: Path) -> str:
    cycle = ["cd proj", "make build-zeta", "git status", "ls -la"]
    train = [Record(cycle[i % 4], (i + 1) * 60_000_000_000) for i in range(400)]
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    out = train_eval_model(train, work, plugins, max_steps=120, block_size=32, vocab_size=400)
    info = register_model(Layout(root), out, trainer="test", tokenizer_dir=out / "tokenizer")
    promote(Layout(root), info.version)
    return info.version


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("model")
    _promoted_model(base / "delta", base / "train")
    return base / "delta"


def _shell(tmp_path: Path, model_root: Path, extra: str = "") -> Xonsh:
    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    env = clean_env(tmp_path, root, DELTA_DISABLE_PLUGINS="suggest_history")
    extra = "$XONSH_PROMPT_AUTO_SUGGEST = True\n" + extra
    sh = Xonsh(
        write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit", extra=extra), env, tmp_path
    )
    sh.child.sendline("echo warm-up-done")
    sh.child.expect_exact("warm-up-done\r\n")
    time.sleep(6)  # the recorder starts after the first prompt, then the model loads
    return sh


def _ghost(sh: Xonsh, typed: str, rest: str, timeout: float) -> bool:
    """Type ``typed`` key by key (pausing) and wait for ``rest`` drawn after the cursor."""
    for ch in typed:
        sh.child.send(ch)
        time.sleep(0.5)
    try:
        sh.child.expect_exact(rest, timeout=timeout)
        return True
    except pexpect.TIMEOUT:
        return False


def test_model_completion_shows_as_ghost_text(tmp_path: Path, model_root: Path) -> None:
    sh = _shell(tmp_path, model_root)
    assert _ghost(sh, "mak", "e build-zeta", 20)
    sh.child.send("\x05\r")  # Ctrl-E accepts the ghost text, Enter runs it
    sh.child.expect_exact("make")  # make runs (and fails: no makefile) — it was accepted
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
    assert sh.delta_lines() == []


def test_delta_suggest_off_shows_nothing_from_delta(tmp_path: Path, model_root: Path) -> None:
    sh = _shell(tmp_path, model_root, "$DELTA_SUGGEST = False\n")
    assert not _ghost(sh, "mak", "e build-zeta", 4)
    sh.child.send("\x15")  # Ctrl-U clears the line
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
