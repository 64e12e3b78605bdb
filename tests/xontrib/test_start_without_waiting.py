"""The shell does not wait for the recorder's background start (issue 15): an exit before it
is needed builds nothing, and a command typed while it is starting runs at once, its next
prompt draws at once, and the start stores it with its own start time before any later
command; an exit right after it waits for that, so nothing is lost."""

from __future__ import annotations

import time

import pytest

from delta_core.memory.store import Store
from xontrib_delta import session as shell_session
from xontrib_delta.session import ShellRecorder


@pytest.fixture
def recorder(delta_home, tmp_path, monkeypatch):
    # The start waits for the first prompt before it builds; no prompt is drawn here, so it
    # stays waiting until a test draws one (a long wait, so that a slow machine cannot end it).
    monkeypatch.setattr(shell_session, "FIRST_PROMPT_WAIT_S", 120.0)
    env = {"PWD": str(tmp_path), "DELTA_HOME": str(delta_home), "HOME": str(tmp_path)}
    rec = ShellRecorder(env, get_cwd=lambda: str(tmp_path))
    rec.start({"DELTA_HOME": str(delta_home)})
    yield rec
    rec.close()


def test_an_exit_before_the_memory_is_needed_opens_nothing(recorder, delta_home):
    recorder.close()
    assert recorder._thread is not None
    recorder._thread.join(60)
    assert not recorder._thread.is_alive()
    assert recorder._recorder is None
    assert not (delta_home / "memory").exists()


def test_a_command_run_while_starting_is_not_held_up_and_is_committed(recorder, delta_home):
    before = time.time_ns()
    recorder.on_precommand("make test\n")
    after = time.time_ns()
    assert not recorder._ready.is_set()  # the command started without waiting for the start
    recorder.on_postcommand(rtn=2, ts=[10.0, 12.5])
    # nor did its next prompt: the start was not begun (the fixture holds it) when it returned
    assert recorder._early and not (delta_home / "memory").exists()
    assert recorder._ready.wait(60)  # the start, told a command is waiting, stores it
    with Store(delta_home) as store:
        (got,) = store.iter_records()
    assert (got.command, got.exit, got.duration) == ("make test", 2, 2.5)
    assert before <= got.start_ns <= after
    assert got.cwd and got.session == recorder.session

    recorder.on_precommand("ls\n")  # from now on recorded as usual
    recorder.on_postcommand(rtn=0, ts=[13.0, 13.1])
    recorder.close()
    with Store(delta_home) as store:
        got = sorted(store.iter_records(), key=lambda r: r.start_ns)
    assert [r.command for r in got] == ["make test", "ls"]


def test_an_exit_right_after_a_command_run_while_starting_keeps_it(recorder, delta_home):
    recorder.on_precommand("git push\n")
    recorder.on_postcommand(rtn=0, ts=[1.0, 2.0])
    recorder.on_precommand("exit\n")
    recorder.close()  # before the start stored it: the exit waits for that
    assert not recorder._thread.is_alive()
    with Store(delta_home) as store:
        assert [r.command for r in store.iter_records()] == ["git push"]


def test_delta_run_while_starting_sees_the_commands_before_it(recorder, delta_home):
    recorder.on_precommand("make build\n")
    recorder.on_postcommand(rtn=0, ts=[1.0, 2.0])
    with recorder.using_memory() as ctx:  # what `delta memory …` typed next runs in
        assert ctx is not None
        assert [r.command for r in ctx.store.iter_records()] == ["make build"]


def test_exit_typed_while_starting_builds_nothing(recorder, delta_home):
    recorder.on_precommand("exit\n")  # xonsh fires no postcommand for `exit`
    recorder.close()
    recorder._thread.join(60)
    assert recorder._recorder is None and not (delta_home / "memory").exists()


def test_what_needs_the_memory_starts_when_it_opens_not_on_a_later_prompt(recorder):
    """The suggestion engine used to be built on the prompt after the first command, which
    waited for the start; now that nothing waits, the start itself calls it."""
    called = []
    recorder.when_ready(lambda: called.append(recorder._recorder is not None))
    assert called == []
    recorder.on_pre_prompt()
    assert recorder._ready.wait(60)
    recorder._thread.join(60)
    assert called == [True]
    recorder.when_ready(lambda: called.append("at once"))
    assert called == [True, "at once"]


_BUILD_IN_A_FRESH_PROCESS = """
import json, sys
from xontrib_delta.session import ShellRecorder
env = {"DELTA_HOME": sys.argv[1], "HOME": sys.argv[2], "PWD": sys.argv[2]}
rec = ShellRecorder(env, get_cwd=lambda: sys.argv[2])
rec.start_later({"DELTA_HOME": sys.argv[1], "HOME": sys.argv[2]})
built = rec.recorder() is not None  # builds here, as the background start does
from delta_plugins.secrets import RULES
print(json.dumps({
    "built": built,
    "modules": sorted(m.split(".")[0] for m in sys.modules),
    "compiled": [r.name for r in RULES if r.compiled],
}))
rec.close()
"""


def test_the_recorders_start_imports_nothing_heavy_and_compiles_no_secret_rule(
    delta_home, tmp_path
):
    # What the first command waits for (issue 15): the recorder's build imports neither numpy
    # nor the CLI's or the model's libraries, and compiles none of the secret rules' regexes
    # (each is compiled when a command first has one of its keywords).
    import json
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _BUILD_IN_A_FRESH_PROCESS, str(delta_home), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DELTA_HOME": str(delta_home)},
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["built"], out.stderr
    heavy = {"numpy", "torch", "sentencepiece", "onnxruntime", "rich", "click", "usearch"}
    assert heavy.isdisjoint(got["modules"]), heavy & set(got["modules"])
    assert got["compiled"] == []
