"""The promotion gate judges the model ``delta serve`` will run: int8 ONNX by default, fp32
when ``serve.backend = "onnx"``; the served file is written when the model is promoted."""

from __future__ import annotations

import pytest

from delta_core.context import DeltaContext
from delta_core.inference.onnx_file import ONNX_INT8_FILE
from delta_core.learn.deploy import active_version
from delta_core.learn.promotion import after_training, evaluate_candidate
from delta_core.learn.registry import get_model
from tests.conftest import make_record
from tests.core.serve_helpers import promoted_model

COMMANDS = ["git status", "git diff", "make test", "ls -la", "cd src", "git commit -m 'wip'"]


@pytest.fixture
def two_models(delta_home, tmp_path) -> tuple[str, str]:
    """Two registered models (the newer one served) and a history to judge them on."""
    older = promoted_model(delta_home, tmp_path / "a")
    newer = promoted_model(delta_home, tmp_path / "b", seed=1)
    ctx = DeltaContext()
    ctx.store.add_many([make_record(i, COMMANDS[i % len(COMMANDS)]) for i in range(40)])
    ctx.close()
    return older, newer


def test_the_gate_evaluates_the_int8_model_that_is_served(two_models, delta_home):
    older, newer = two_models
    ctx = DeltaContext()
    try:
        for version in (older, newer):  # promotion exported them: the gate must do it itself
            (get_model(ctx.layout, version).path / ONNX_INT8_FILE).unlink()
        ok, reason, result = evaluate_candidate(ctx, older)
        assert result["backend"] == "onnx-int8" and reason.endswith("(onnx-int8)")
        # candidate, served one, and Delta without a model (the floor)
        assert {"delta", "current", "delta_no_model"} <= set(result["strategies"])
        for version in (older, newer):  # both judged on their int8 exports
            assert (get_model(ctx.layout, version).path / ONNX_INT8_FILE).is_file()
        line = after_training(ctx, get_model(ctx.layout, older))
        assert "(onnx-int8)" in line
        assert active_version(ctx.layout) == (older if ok else newer)
    finally:
        ctx.close()


def test_the_gate_follows_the_configured_backend(two_models, monkeypatch):
    older, _ = two_models
    monkeypatch.setenv("DELTA_SERVE_BACKEND", "onnx")
    ctx = DeltaContext()
    try:
        _, reason, result = evaluate_candidate(ctx, older)
        assert result["backend"] == "onnx" and reason.endswith("(onnx)")
    finally:
        ctx.close()


def _judged(**ks: float) -> dict:
    return {"strategies": {name: {"keystroke_savings": v} for name, v in ks.items()}}


def test_a_model_that_costs_keys_against_history_alone_is_not_served():
    from delta_core.learn.deploy import gate

    ok, reason = gate(_judged(delta=0.40, recent=0.30, bigram=0.35, delta_no_model=0.41))
    assert not ok and "below history alone (41.0%)" in reason
    # a weight fitted to nothing ties history alone: served (it beats every baseline)
    ok, reason = gate(_judged(delta=0.41, recent=0.30, bigram=0.35, delta_no_model=0.41))
    assert ok, reason
    ok, reason = gate(_judged(delta=0.34, bigram=0.35, delta_no_model=0.30))
    assert not ok and "do not beat bigram" in reason
