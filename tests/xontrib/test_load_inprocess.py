"""The xontrib inside a test process, with xonsh's own pytest plugin (``xession``,
``load_xontrib``): fast checks of load, the handlers and unload, next to the pty tests."""

from __future__ import annotations

import sys
from pathlib import Path

from delta_core.memory.store import Store


def test_load_records_through_the_events_and_unload_undoes_it(
    xession, load_xontrib, tmp_path: Path
) -> None:
    root = tmp_path / "delta"
    xession.env["DELTA_HOME"] = str(root)
    xession.env["XONSH_INTERACTIVE"] = False  # build on first use, in this thread
    events = xession.builtins.events
    before = {n: len(list(getattr(events, n))) for n in ("on_precommand", "on_postcommand")}

    load_xontrib("delta")
    assert "delta" in xession.aliases and ":memory" in xession.aliases
    session = xession.env["DELTA_SESSION"]
    events.on_precommand.fire(cmd="make test\n")
    events.on_postcommand.fire(cmd="make test\n", rtn=2, out=None, ts=[10.0, 12.5])

    with Store(root) as store:
        (rec,) = list(store.iter_records())
    assert (rec.command, rec.exit, rec.duration, rec.session, rec.shell) == (
        "make test",
        2,
        2.5,
        session,
        "xonsh",
    )

    unload(xession)
    assert "delta" not in xession.aliases and ":memory" not in xession.aliases
    assert "DELTA_SESSION" not in xession.env
    after = {n: len(list(getattr(events, n))) for n in before}
    assert after == before
    events.on_precommand.fire(cmd="ls\n")
    events.on_postcommand.fire(cmd="ls\n", rtn=0, out=None, ts=[13.0, 13.1])
    with Store(root) as store:
        assert [r.command for r in store.iter_records()] == ["make test"]


def test_loading_twice_adds_handlers_once(xession, load_xontrib, tmp_path: Path) -> None:
    xession.env["DELTA_HOME"] = str(tmp_path / "delta")
    xession.env["XONSH_INTERACTIVE"] = False
    events = xession.builtins.events
    n0 = len(list(events.on_postcommand))
    load_xontrib("delta")
    once = len(list(events.on_postcommand))
    assert once > n0
    load_xontrib("delta")
    assert len(list(events.on_postcommand)) == once
    unload(xession)
    assert len(list(events.on_postcommand)) == n0


def unload(xession) -> None:
    # What `xontrib unload` does, except dropping the module, which the fixture does itself.
    sys.modules["xontrib.delta"]._unload_xontrib_(xession)


def test_the_environment_copied_for_an_early_command_leaves_defaults_unevaluated(xession):
    """A command that starts before the recorder is built keeps a copy of the environment;
    copying every registered default evaluated them, and one imports half of prompt_toolkit
    (that made `exit` on the first prompt take 300 ms longer)."""
    from xonsh.environ import Env

    from xontrib_delta.session import EnvView

    env = Env(DELTA_TEST_VAR="set", PATH=["/usr/bin", "/bin"])
    got = EnvView(env).snapshot()
    assert got["DELTA_TEST_VAR"] == "set" and got["PATH"] == "/usr/bin:/bin"
    # only what is set: the registered defaults (XONSH_HISTORY_SIZE, BOTTOM_TOOLBAR, …) stay
    assert set(got) == {"DELTA_TEST_VAR", "PATH"}
