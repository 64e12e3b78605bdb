"""Two gloo DDP processes under torchrun end where one process with the same global batch ends."""

from __future__ import annotations

import subprocess

import pytest
from train_helpers import FAST, multi_cmd, train_cmd

torch = pytest.importorskip("torch")

STEPS = ["--max-steps", "12", "--grad-accum", "2", "--eval-interval", "6"]


def _weights(run) -> dict:
    return torch.load(run / "checkpoint.pt", weights_only=True)["model"]


def test_two_process_ddp_matches_one_process(token_dataset, tmp_path, train_env):
    common = ["--dataset", str(token_dataset), *FAST, *STEPS]
    one, two = tmp_path / "one", tmp_path / "two"
    single = subprocess.run(
        train_cmd(*common, "--out", str(one)), env=train_env, capture_output=True, text=True
    )
    assert single.returncode == 0, single.stderr
    for _attempt in range(2):
        multi = subprocess.run(
            multi_cmd(*common, "--out", str(two), "--nproc-per-node", "2"),
            env=train_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        # Seen once in four full suite runs here: a gloo worker aborted (SIGABRT) while the
        # 2-core machine was busy; a fresh run then passed. One retry for a killed worker
        # only - a run that finishes must still match exactly.
        if multi.returncode == 0 or "Signal" not in multi.stderr:
            break
    assert multi.returncode == 0, multi.stderr[-3000:]
    assert "world_size 2" in multi.stdout and "world_size 1" in single.stdout

    a, b = _weights(one), _weights(two)
    torch.manual_seed(1337)  # the initial weights, to show the runs really trained
    from delta_core.lm.config import GPTConfig
    from delta_core.lm.gpt import GPT

    init = GPT(
        GPTConfig(vocab_size=259, block_size=32, n_layer=2, n_head=2, n_embd=128)
    ).state_dict()
    moved = max((a[k] - init[k]).abs().max().item() for k in a)
    gap = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved > 1e-2
    assert gap < 1e-5, f"DDP and single-process weights differ by {gap}"


def test_grad_accum_that_does_not_divide_over_processes_is_refused(
    token_dataset, tmp_path, train_env
):
    args = ["--dataset", str(token_dataset), *FAST, "--max-steps", "2", "--grad-accum", "3"]
    args += ["--out", str(tmp_path / "x"), "--nproc-per-node", "2"]
    res = subprocess.run(multi_cmd(*args), env=train_env, capture_output=True, text=True)
    assert res.returncode != 0
    assert "--grad-accum 3 is not a multiple of the 2 training processes" in res.stderr
