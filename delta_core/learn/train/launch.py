"""Launching training processes: torchrun for ``training/train_multi.py`` and the trainers.

``python training/train_multi.py [train.py flags] [--nproc-per-node N]
[--nnodes N --rdzv-endpoint HOST:PORT [--rdzv-id ID]]`` starts ``N`` copies of
:mod:`delta_core.learn.train.main` under torchrun: by default one per GPU torch can see, or one on
a CPU (one process with every core beats several with one core each; ask for more to run
gloo DDP on CPU). With ``--nnodes`` > 1 every node runs the same command and they meet at the
c10d rendezvous endpoint. The command lines are built here, without importing torch, so
trainers can reuse them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

from delta_core.learn.train.config import build_parser, options_to_argv
from delta_core.plugin.protocols import TrainJob

ENTRY_MODULE = "delta_core.learn.train.main"


def train_argv(job: TrainJob, *, dataset: str | None = None, out: str | None = None) -> list[str]:
    """Flags of ``train.py`` for ``job`` (``dataset``/``out`` override paths, e.g. in a container)."""
    argv = [
        "--dataset",
        dataset or str(job.dataset_dir),
        "--out",
        out or str(job.out_dir),
        "--model-size",
        job.model_size,
    ]
    if job.max_steps:
        argv += ["--max-steps", str(job.max_steps)]
    return argv + options_to_argv(job.options)


def single_command(argv: Sequence[str], python: str = sys.executable) -> list[str]:
    """One training process on this host."""
    return [python, "-m", ENTRY_MODULE, *argv]


def torchrun_command(
    argv: Sequence[str],
    nproc_per_node: int,
    *,
    nnodes: int = 1,
    rdzv_endpoint: str | None = None,
    rdzv_id: str = "delta",
    python: str = sys.executable,
) -> list[str]:
    """torchrun over :mod:`delta_core.learn.train.main` with ``argv``."""
    cmd = [python, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}"]
    if nnodes > 1:
        if not rdzv_endpoint:
            raise ValueError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT")
        cmd += [
            f"--nnodes={nnodes}",
            "--rdzv_backend=c10d",
            f"--rdzv_endpoint={rdzv_endpoint}",
            f"--rdzv_id={rdzv_id}",
        ]
    else:
        cmd.append("--standalone")
    return [*cmd, "-m", ENTRY_MODULE, *argv]


def cuda_device_count() -> int:
    """GPUs torch can use here (0 without torch or CUDA)."""
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def cpu_env(nproc: int, env: dict[str, str] | None = None) -> dict[str, str]:
    """Share the cores among several CPU processes instead of torchrun's one thread each.

    One process picks its own thread count (:func:`delta_core.learn.train.runtime.idle_cores`).
    """
    env = dict(os.environ if env is None else env)
    if nproc > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return env


def _launcher_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train_multi.py",
        add_help=False,
        description="Train with torchrun; any other flag goes to train.py.",
    )
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=0, dest="nproc")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", default=None, dest="rdzv_endpoint")
    p.add_argument("--rdzv-id", "--rdzv_id", default="delta", dest="rdzv_id")
    p.add_argument("-h", "--help", action="store_true")
    return p


def main_multi(argv: list[str] | None = None) -> int:
    """``training/train_multi.py``: validate the flags, then run torchrun and wait for it."""
    launcher = _launcher_parser()
    ns, rest = launcher.parse_known_args(argv)
    train_parser = build_parser("train_multi.py", "Train a Delta model with torchrun.")
    if ns.help:
        launcher.print_help()
        print()
        train_parser.print_help()
        return 0
    cfg = train_parser.parse_args(rest)  # a bad flag fails here, before any process starts
    gpus = 0 if cfg.device == "cpu" else cuda_device_count()
    if cfg.device == "cuda" and not gpus:
        print("train_multi.py: --device cuda, but no CUDA GPU is visible", file=sys.stderr)
        return 2
    nproc = ns.nproc or gpus or 1
    world = nproc * ns.nnodes
    if cfg.grad_accum and cfg.grad_accum % world:
        print(
            f"train_multi.py: --grad-accum {cfg.grad_accum} is not a multiple of the {world} "
            "training processes",
            file=sys.stderr,
        )
        return 2
    try:
        cmd = torchrun_command(
            rest, nproc, nnodes=ns.nnodes, rdzv_endpoint=ns.rdzv_endpoint, rdzv_id=ns.rdzv_id
        )
    except ValueError as exc:
        print(f"train_multi.py: {exc}", file=sys.stderr)
        return 2
    env = cpu_env(nproc) if not gpus else dict(os.environ)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # torchrun forwards the signal to its workers; wait so none is left behind
        return proc.wait()
