"""Checkpoints that resume exactly, and the model files a run leaves behind (imports torch).

A run's output directory holds:

``checkpoint.pt``
    weights, optimizer and grad-scaler state, the step reached, every rank's RNG state, the
    data position (the step: batches are drawn by counter, see :mod:`delta_core.learn.train.data`),
    early-stopping state and the metrics so far. Written atomically, so a run killed while
    writing it resumes from the previous one.
``model.pt``
    the weights alone (a ``state_dict`` of :class:`~delta_core.lm.gpt.GPT`, no ``torch.compile``
    or DDP prefixes): the best model by validation loss.
``config.json``
    ``{"model": GPTConfig, "train": resolved TrainConfig, "dataset": dataset stats}``.
``metrics.json``
    losses, tokens/s, MFU, steps, whether it stopped early.

Everything is loaded with ``weights_only=True``: a checkpoint is data, never code.
Files are 0600 and the directory 0700, like the rest of Delta's files.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from delta_core.lm.config import GPTConfig
from delta_core.lm.gpt import GPT
from delta_core.paths import private_dir, write_private

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
CONFIG = "config.json"
METRICS = "metrics.json"


def _save_torch(path: Path, obj: Any) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_private(path, buf.getvalue())


def write_json(path: Path, data: Any) -> None:
    write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _numpy_state() -> tuple:
    # numpy arrays are not allowed by weights_only loading: keep the key as a list of ints
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return (name, keys.tolist(), int(pos), int(has_gauss), float(cached))


def rng_state() -> dict[str, Any]:
    """This process's random states, in types ``weights_only`` loading accepts."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(out_dir: Path, payload: dict[str, Any]) -> Path:
    """Write ``checkpoint.pt`` atomically; ``payload`` is built by the training loop."""
    private_dir(out_dir)
    path = Path(out_dir) / CHECKPOINT
    _save_torch(path, payload)
    return path


def load_checkpoint(out_dir: Path, device: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``out_dir``, or ``None`` when there is none."""
    path = Path(out_dir) / CHECKPOINT
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)


def save_weights(out_dir: Path, model: GPT) -> Path:
    """Write ``model.pt`` (CPU tensors, so it loads anywhere) atomically."""
    path = Path(out_dir) / WEIGHTS
    _save_torch(path, {k: v.detach().cpu() for k, v in model.state_dict().items()})
    return path


def read_config(model_dir: Path) -> dict[str, Any]:
    return json.loads((Path(model_dir) / CONFIG).read_text(encoding="utf-8"))


def load_model(model_dir: Path | str, device: torch.device | str = "cpu") -> GPT:
    """A trained :class:`GPT` from a run directory or a registered ``models/<version>/``.

    The model comes back in eval mode on ``device``.
    """
    model_dir = Path(model_dir)
    for name in (CONFIG, WEIGHTS):
        if not (model_dir / name).exists():
            raise FileNotFoundError(f"{model_dir} holds no trained model: {name} is missing")
    config = GPTConfig.from_dict(read_config(model_dir)["model"])
    model = GPT(config)
    state = torch.load(model_dir / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()
