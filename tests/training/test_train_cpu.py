"""CPU training on real commands (NL2Bash) learns: validation loss falls, files are usable."""

from __future__ import annotations

import json
import stat

import pytest

torch = pytest.importorskip("torch")

from delta_core.learn.train.config import TrainConfig  # noqa: E402
from delta_core.learn.train.data import TokenDataset  # noqa: E402
from delta_core.learn.train.loop import train  # noqa: E402
from delta_core.lm.checkpoint import load_model  # noqa: E402


def _config(dataset, out, **kw) -> TrainConfig:
    base = dict(
        dataset=str(dataset),
        out=str(out),
        model_size="tiny",
        device="cpu",
        batch_size=8,
        block_size=64,
        max_steps=60,
        eval_interval=20,
        eval_iters=8,
        progress="off",
    )
    return TrainConfig(**{**base, **kw})


def test_cpu_training_lowers_validation_loss(token_dataset, tmp_path):
    out = tmp_path / "run"
    metrics = train(_config(token_dataset, out))

    # an untrained model is near log(vocab) = 5.56 nats; 60 steps must get far below it
    assert metrics["initial_val_loss"] > 5.0
    assert metrics["val_loss"] < metrics["initial_val_loss"] - 1.5
    assert [s for s, _ in metrics["val_history"]] == [20, 40, 60]
    assert metrics["steps"] == 60 and metrics["tokens_per_s"] > 0
    assert metrics["mfu"] is None  # no known peak for a CPU

    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["val_loss"] == metrics["val_loss"]
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["vocab_size"] == 259 and config["train"]["block_size"] == 64
    for name in ("model.pt", "checkpoint.pt", "config.json", "metrics.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700

    # the saved weights are the best model: evaluated again they give the recorded loss
    model = load_model(out)
    data = TokenDataset.open(token_dataset)
    losses = []
    with torch.no_grad():
        for i in range(8):
            x, y = data.batch("val", seed=1337, step=0, micro=i, batch_size=8, block_size=64)
            losses.append(float(model(torch.from_numpy(x), torch.from_numpy(y)).loss))
    assert sum(losses) / len(losses) == pytest.approx(metrics["val_loss"], rel=1e-5)


def test_early_stopping_ends_a_run_that_no_longer_improves(token_dataset, tmp_path):
    # a learning rate of ~0 cannot improve the loss by min_delta: the validation at step 10
    # sets the mark, those at 20 and 30 miss it, and patience 2 ends the run at step 30
    metrics = train(
        _config(
            token_dataset,
            tmp_path / "run",
            learning_rate=1e-9,
            max_steps=200,
            eval_interval=10,
            patience=2,
            min_delta=0.01,
        )
    )
    assert metrics["stopped_early"] is True
    assert metrics["steps"] == 30
    assert [s for s, _ in metrics["val_history"]] == [10, 20, 30]


def test_a_dataset_too_small_for_the_flags_is_one_clear_error(token_dataset, tmp_path):
    from delta_core.learn.train.data import DatasetError

    with pytest.raises(DatasetError, match="--block-size"):
        train(_config(token_dataset, tmp_path / "run", block_size=10**6))
