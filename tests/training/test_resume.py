"""A run killed with SIGKILL after a checkpoint and resumed ends exactly where an uninterrupted one does."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from train_helpers import FAST, train_cmd

torch = pytest.importorskip("torch")

STEPS = ["--max-steps", "150", "--eval-interval", "10", "--log-interval", "5"]


def _state(run) -> tuple[dict, dict, dict]:
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    best = torch.load(run / "model.pt", weights_only=True)
    return ck["model"], ck["optimizer"]["state"], best


def test_killed_and_resumed_run_matches_uninterrupted_run(token_dataset, tmp_path, train_env):
    common = ["--dataset", str(token_dataset), *FAST, *STEPS]
    whole, broken = tmp_path / "whole", tmp_path / "broken"

    # kill -9 right after the first checkpoint: no handler runs, nothing is flushed
    proc = subprocess.Popen(
        train_cmd(*common, "--out", str(broken)),
        env=train_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("checkpoint step 10"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = torch.load(broken / "checkpoint.pt", weights_only=True)["step"]
    assert 10 <= killed_at < 150
    assert not (broken / "metrics.json").exists()

    resumed = subprocess.run(
        train_cmd(*common, "--out", str(broken), "--resume"),
        env=train_env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resume step {killed_at}" in resumed.stdout

    left_alone = subprocess.run(
        train_cmd(*common, "--out", str(whole)), env=train_env, capture_output=True, text=True
    )
    assert left_alone.returncode == 0, left_alone.stderr

    (wa, oa, ba), (wb, ob, bb) = _state(whole), _state(broken)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
        assert torch.equal(ba[k], bb[k]), k
    for i in oa:
        assert torch.equal(oa[i]["exp_avg_sq"], ob[i]["exp_avg_sq"])
    ma = json.loads((whole / "metrics.json").read_text())
    mb = json.loads((broken / "metrics.json").read_text())
    assert ma["val_history"] == mb["val_history"] and ma["steps"] == mb["steps"] == 150


def test_resume_of_a_finished_run_does_not_train_again(token_dataset, tmp_path):
    from delta_core.learn.train.config import parse_args
    from delta_core.learn.train.loop import train

    argv = ["--dataset", str(token_dataset), *FAST, "--max-steps", "5", "--out", str(tmp_path)]
    first = train(parse_args(argv))
    before = (tmp_path / "model.pt").read_bytes()
    again = train(parse_args([*argv, "--resume"]))
    assert again == first
    assert (tmp_path / "model.pt").read_bytes() == before
