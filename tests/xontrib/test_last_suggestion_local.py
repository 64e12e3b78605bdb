"""The last suggestion stays in the shell: xonsh never exports it to child processes."""

from __future__ import annotations

from xonsh.environ import Env

from xontrib_delta.suggest import LAST_VAR, NEXT_VAR, _keep_local, _restore_vars


def test_suggestion_variables_are_not_exported_to_subprocesses():
    env = Env()
    env[LAST_VAR] = "./cli login TxoF54aZq9LmW2bXcVd8"
    assert LAST_VAR in env.detype()  # what happened before: every child saw it
    env = Env()
    _keep_local(env)
    env[LAST_VAR] = "./cli login TxoF54aZq9LmW2bXcVd8"
    env[NEXT_VAR] = "./cli login TxoF54aZq9LmW2bXcVd8"
    assert env[LAST_VAR].startswith("./cli")  # still readable in the shell itself
    detyped = env.detype()
    assert LAST_VAR not in detyped and NEXT_VAR not in detyped


def test_unloading_restores_the_registrations():
    env = Env()
    before = env._vars.get(NEXT_VAR)
    saved = _keep_local(env)
    _restore_vars(env, saved)
    assert env._vars.get(NEXT_VAR) is before
    assert LAST_VAR not in env._vars
