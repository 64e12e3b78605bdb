"""The learning loop: ``delta model retrain --if-due`` trains only once enough new commands
arrived, one at a time, with the local trainer; the gate's verdict and the served model's
figures show in ``delta model status``."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

torch = pytest.importorskip("torch")


def _run(env, *args):
    return subprocess.run(["delta", "model", *args], env=env, capture_output=True, text=True)


def _memory(env, n):
    from byte_dataset import commands

    from delta_core.memory.store import Store
    from delta_core.records.record import Record

    with Store(env["DELTA_HOME"]) as store:
        store.add_many(
            [
                Record(c, 1_700_000_000_000_000_000 + i * 30 * 10**9, session=f"s{i // 20}")
                for i, c in enumerate(commands(n))
            ]
        )


@pytest.mark.slow
def test_retrain_when_due_then_status_says_what_is_served(train_env, delta_home):
    env = {
        **train_env,
        "DELTA_HOME": str(delta_home),
        "DELTA_LEARN_RETRAIN_AFTER": "300",
        "DELTA_LEARN_RETRAIN_STEPS": "10",
        "DELTA_SERVE_BACKEND": "torch",
    }
    _memory(env, 200)
    got = _run(env, "retrain", "--if-due")
    assert got.returncode == 0 and "no retrain: 200 new commands" in got.stdout, got.stderr
    status = json.loads(_run(env, "status", "--json").stdout)
    assert status["served"] is None and status["loop"]["due"] is False
    _memory(env, 600)  # 600 more (the first 200 again are kept: they are new records)
    got = _run(env, "retrain", "--if-due")
    assert got.returncode == 0, got.stderr[-3000:]
    assert got.stdout.startswith("model ") and "promoted" in got.stdout, got.stdout
    status = json.loads(_run(env, "status", "--json").stdout)
    loop = status["loop"]
    assert loop["result"] == got.stdout.strip() and loop["due"] is False
    assert loop["started_at_commands"] == loop["commands"]
    models = json.loads(_run(env, "list", "--json").stdout)
    gate = json.loads((delta_home / "models" / models[0]["version"] / "gate.json").read_text())
    assert {"recent", "bigram", "delta"} <= set(gate["strategies"])
    assert oct(os.stat(delta_home / "retrain.json").st_mode & 0o777) == "0o600"
    if status["served"] is not None:  # promoted: status says what it was trained on
        assert status["served"]["trained_on_commands"] > 0
        assert status["served"]["gate"]["passed"] is True
    text = _run(env, "status").stdout
    assert "learning loop: on" in text


def test_one_retrain_at_a_time_and_the_switch(delta_home, monkeypatch):
    from delta_core.context import DeltaContext
    from delta_core.learn.retrain import _lock, due, retrain

    ctx = DeltaContext()
    try:
        fd = _lock(ctx.layout)
        assert fd is not None
        assert retrain(ctx) == "no retrain: another one is running"
        os.close(fd)
        monkeypatch.setenv("DELTA_LEARN_AUTO_RETRAIN", "false")
    finally:
        ctx.close()
    ctx = DeltaContext()
    try:
        ok, why = due(ctx)
        assert not ok and "off" in why
        assert retrain(ctx, if_due=True).startswith("no retrain: the learning loop is off")
    finally:
        ctx.close()
