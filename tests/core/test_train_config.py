"""Training configuration: flags from the dataclass, auto values resolved, the LR schedule."""

from __future__ import annotations

import itertools

import pytest

from delta_core.learn.train.config import TrainConfig, options_to_argv, parse_args
from delta_core.learn.train.data import DatasetError
from delta_core.learn.train.plan import lr_at, merge_for_resume, resolve_plan


def test_every_field_is_a_flag_and_round_trips():
    cfg = parse_args(
        ["--dataset", "d", "--out", "o", "--model-size", "tiny", "--max-steps", "7", "--resume",
         "--learning-rate", "0.01", "--log-format", "json"]
    )  # fmt: skip
    assert cfg == TrainConfig(
        dataset="d", out="o", model_size="tiny", max_steps=7, resume=True,
        learning_rate=0.01, log_format="json",
    )  # fmt: skip
    again = parse_args(["--dataset", "d", "--out", "o", *options_to_argv(cfg.to_dict())[4:]])
    assert again == cfg


def test_bad_flags_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--dataset", "d", "--out", "o", "--model-size", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown training option 'lr'"):
        options_to_argv({"lr": 1})


def _plan(**kw):
    cfg = TrainConfig(dataset="d", out="o", **kw.pop("cfg", {}))
    args = dict(device_type="cpu", world_size=1, train_tokens=100_000, max_block=10_000)
    return resolve_plan(cfg, **{**args, **kw})


def test_auto_values_depend_on_size_device_and_data():
    plan, notes = _plan(cfg={"model_size": "small"})
    assert (plan.block_size, plan.batch_size, plan.grad_accum) == (128, 8, 1)  # CPU shape
    assert plan.max_steps == 196  # two passes over 100k tokens of 1024 per step
    assert plan.eval_interval == 19 and plan.checkpoint_interval == 19
    assert plan.compile == "off" and plan.learning_rate == 1e-3 and not notes

    gpu, _ = _plan(cfg={"model_size": "base"}, device_type="cuda", world_size=4,
                   train_tokens=10**9)  # fmt: skip
    assert gpu.compile == "on" and gpu.grad_accum == 4 and gpu.max_steps == 5000
    assert (gpu.block_size, gpu.batch_size) == (512, 32)


def test_block_shrinks_to_a_small_history_but_an_explicit_one_is_an_error():
    plan, notes = _plan(max_block=100)
    assert plan.block_size == 100 and "shrunk to 100" in notes[0]
    with pytest.raises(DatasetError, match="--block-size 200"):
        _plan(cfg={"block_size": 200}, max_block=100)
    with pytest.raises(DatasetError, match="too small to train on"):
        _plan(max_block=3)
    with pytest.raises(ValueError, match="not a multiple of the 2"):
        _plan(cfg={"grad_accum": 3}, world_size=2)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    plan, _ = _plan(cfg={"max_steps": 100, "warmup_steps": 10, "learning_rate": 1.0})
    rates = [lr_at(s, plan) for s in range(101)]
    assert all(a < b for a, b in itertools.pairwise(rates[:11]))
    assert rates[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))
    assert rates[100] == pytest.approx(0.1)


def test_resume_keeps_the_batch_shaping_settings_of_the_checkpoint():
    saved, _ = _plan(cfg={"model_size": "tiny", "seed": 5, "max_steps": 10})
    asked = TrainConfig(dataset="d2", out="o", seed=6, max_steps=20)
    plan, notes = merge_for_resume(saved, asked, world_size=1)
    assert plan.seed == 5 and plan.model_size == "tiny" and plan.max_steps == 20
    assert plan.dataset == "d2" and plan.resume
    assert notes == ["resuming with the checkpoint's seed=5, not 6"]
