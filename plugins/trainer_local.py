"""The ``local`` trainer: the training entry point run on this host, torchrun when it has >1 GPU.

It runs exactly what the container runs (``delta_core.learn.train.main``, i.e. ``training/train.py``)
with the Python that runs Delta, so it needs torch installed here
(``pip install 'xontrib-delta[train]'``). The child shares the terminal: its progress bar and
log lines appear as they come (on stderr: stdout is left to the caller), and Ctrl-C reaches
it as well.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from delta_core.api import TrainJob, hookimpl


class LocalTrainingError(RuntimeError):
    """The training process failed; what it printed explains why."""


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stderr without a file (captured)
        return None


class LocalTrainer:
    name = "local"

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("torch") is None:
            return False, "torch is not installed here; pip install 'xontrib-delta[train]'"
        return True, ""

    def command(self, job: TrainJob) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that run ``job``."""
        # here, not at the top: the shell's start imports every plugin, and only training
        # needs the launcher
        from delta_core.api import (
            cpu_env,
            cuda_device_count,
            single_command,
            torchrun_command,
            train_argv,
        )

        argv = train_argv(job)
        device = str(job.options.get("device", "auto"))
        gpus = 0 if device == "cpu" else cuda_device_count()
        if job.gpus is not None:
            if job.gpus > gpus:
                raise LocalTrainingError(f"--gpus {job.gpus}, but this host has {gpus} usable GPUs")
            gpus = job.gpus
            if gpus == 0 and device == "auto":
                argv += ["--device", "cpu"]
        if gpus > 1:
            return torchrun_command(argv, gpus), dict(os.environ)
        return single_command(argv), cpu_env(1)

    def train(self, job: TrainJob) -> Path:
        cmd, env = self.command(job)
        # training logs go to stderr: stdout stays for the caller's result (delta-train --json)
        proc = subprocess.Popen(cmd, env=env, stdout=_stderr_fd())
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.wait()  # the child got the same Ctrl-C; let it finish writing
            raise
        if code != 0:
            raise LocalTrainingError(f"training exited with status {code}")
        return Path(job.out_dir)


@hookimpl
def delta_register_trainers(register):
    register(LocalTrainer())
