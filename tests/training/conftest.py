"""Fixtures for training tests: a real token dataset and the environment of a training process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from byte_dataset import write_dataset
from train_helpers import REPO


@pytest.fixture(scope="session")
def token_dataset(tmp_path_factory) -> Path:
    """NL2Bash commands as a delta-tokens-v1 dataset (byte ids, sessions padded with <pad>)."""
    return write_dataset(tmp_path_factory.mktemp("data") / "ds", n_commands=3000)


@pytest.fixture
def train_env(delta_home) -> dict[str, str]:
    """Environment of a training subprocess: one thread, so results do not depend on load."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(autouse=True)
def one_thread():
    """In-process training on one thread: two threads on two busy shared cores spin and stall."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
