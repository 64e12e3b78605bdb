"""Command lines of training: train.py flags from a job, torchrun single- and multi-node."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from delta_plugins.trainer_local import LocalTrainer, LocalTrainingError

from delta_core.learn.train.config import parse_args
from delta_core.learn.train.launch import ENTRY_MODULE, main_multi, torchrun_command, train_argv
from delta_core.plugin.protocols import TrainJob


def test_a_job_becomes_train_py_flags_that_parse_back():
    job = TrainJob(Path("/d"), Path("/o"), "base", 500, None, {"resume": True, "batch_size": 8})
    argv = train_argv(job, dataset="/data", out="/out")
    cfg = parse_args(argv)
    assert (cfg.dataset, cfg.out, cfg.model_size, cfg.max_steps) == ("/data", "/out", "base", 500)
    assert cfg.resume and cfg.batch_size == 8
    with pytest.raises(ValueError, match="unknown training option 'gpus_please'"):
        train_argv(TrainJob(Path("/d"), Path("/o"), options={"gpus_please": 1}))


def test_torchrun_standalone_and_multi_node():
    one = torchrun_command(["--dataset", "d"], 4)
    assert one[:4] == [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=4"]
    assert "--standalone" in one and one[-4:] == ["-m", ENTRY_MODULE, "--dataset", "d"]
    many = torchrun_command([], 8, nnodes=2, rdzv_endpoint="head:29500", rdzv_id="run7")
    assert {"--nnodes=2", "--rdzv_backend=c10d", "--rdzv_endpoint=head:29500",
            "--rdzv_id=run7"} <= set(many) and "--standalone" not in many  # fmt: skip
    with pytest.raises(ValueError, match="needs --rdzv-endpoint"):
        torchrun_command([], 8, nnodes=2)


def test_train_multi_refuses_bad_flags_before_starting_processes(capsys):
    assert main_multi(["--dataset", "d", "--out", "o", "--device", "cpu", "--nnodes", "2"]) == 2
    assert "needs --rdzv-endpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main_multi(["--out", "o"])  # --dataset is required
    assert "--dataset" in capsys.readouterr().err


def test_local_trainer_runs_one_process_on_a_cpu_host():
    job = TrainJob(Path("/d"), Path("/o"), "tiny", 3, gpus=0)
    cmd, _ = LocalTrainer().command(job)
    assert cmd[:3] == [sys.executable, "-m", ENTRY_MODULE] and cmd[-2:] == ["--device", "cpu"]
    assert LocalTrainer().available() == (True, "")
    with pytest.raises(LocalTrainingError, match="--gpus 64, but this host has"):
        LocalTrainer().command(TrainJob(Path("/d"), Path("/o"), gpus=64))
