"""Command lines of the training entry points, as the tests run them."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Flags that keep a tiny model's step at a few milliseconds on two shared cores.
FAST = [
    "--model-size", "tiny", "--device", "cpu", "--batch-size", "4", "--block-size", "32",
    "--eval-iters", "4", "--progress", "off",
]  # fmt: skip


def train_cmd(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "training" / "train.py"), *args]


def multi_cmd(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "training" / "train_multi.py"), *args]
