"""End to end: a third party's suggester, installed as a package with an entry point, is
shown as ghost text in a real xonsh when its candidate scores best.

The plugin is installed the way ``pip install`` leaves a package: a module and a
``*.dist-info`` folder with its entry point in group ``delta``, on the shell's path. It
declares the role ``extra`` and writes only ``suggest`` (``BaseSuggester`` gives the rest).
The memory holds two history candidates for the same prefix, so history's best is not sure.
"""

from __future__ import annotations

from pathlib import Path

import pexpect
from xonsh_pty import Xonsh, clean_env, write_rc

from delta_core.context import DeltaContext
from tests.conftest import make_record

PLUGIN = """
from delta_core.api import BaseSuggester, Suggestion, hookimpl


class Deploys(BaseSuggester):
    name = "deploys"
    role = "extra"

    def suggest(self, query):
        if query.prefix.startswith("git s"):
            return [Suggestion("git sync-from-the-plugin", 1.0, self.name)]
        return []


@hookimpl
def delta_register_suggesters(register):
    register(Deploys())
"""


def _install_plugin(site: Path) -> None:
    site.mkdir()
    (site / "delta_deploys.py").write_text(PLUGIN)
    info = site / "delta_deploys-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: delta-deploys\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[delta]\ndeploys = delta_deploys\n")


def _shell(tmp_path: Path, root: Path, **env_extra: str) -> Xonsh:
    env = clean_env(tmp_path, root, **env_extra)
    rc = write_rc(
        tmp_path / "rc.xsh",
        shell_type="prompt_toolkit",
        extra="$XONSH_PROMPT_AUTO_SUGGEST = True\n",
    )
    sh = Xonsh(rc, env, tmp_path)
    sh.warm_up(4)  # the recorder and the suggestion engine start after the first prompt
    return sh


def _memory(root: Path) -> None:
    ctx = DeltaContext(root)
    try:
        ctx.store.add_many(
            [make_record(i, "git status" if i % 2 else "git stash", exit=0) for i in range(40)]
        )
    finally:
        ctx.close()


def test_a_third_party_suggester_that_scores_best_is_the_ghost_text(tmp_path: Path) -> None:
    root = tmp_path / "delta"
    _memory(root)
    _install_plugin(tmp_path / "site")
    sh = _shell(tmp_path, root, PYTHONPATH=str(tmp_path / "site"))
    assert sh.ghost("git s", "ync-from-the-plugin", 15)
    sh.child.send("\x15")
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
    assert sh.delta_lines() == []


def test_without_the_plugin_history_is_the_ghost_text(tmp_path: Path) -> None:
    """The same shell and memory without the plugin: what it showed came from the plugin."""
    root = tmp_path / "delta"
    _memory(root)
    sh = _shell(tmp_path, root)
    assert not sh.ghost("git s", "ync-from-the-plugin", 4)
    sh.child.send("\x15")
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
