"""How a training run is configured: one dataclass, its command-line flags, no ``exec``.

Every field of :class:`TrainConfig` is a flag of ``training/train.py`` (``model_size`` ->
``--model-size``); the flags are generated from the fields so the two cannot drift apart.
Zero or ``"auto"`` means "choose from the model size, the device and the dataset" and is
resolved by the training loop, which records the resolved values in ``config.json``.
Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from delta_core.lm.config import size_names


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    dataset: str = field(metadata={"help": "dataset directory (train.bin, val.bin, meta.json)"})
    out: str = field(
        metadata={"help": "output directory: checkpoint, model.pt, config.json, metrics.json"}
    )
    model_size: str = _opt("small", "model size", choices=size_names())
    max_steps: int = _opt(0, "optimizer steps (0: auto, about two passes over the data)")
    device: str = _opt("auto", "where to train", choices=["auto", "cpu", "cuda"])
    dtype: str = _opt(
        "auto",
        "autocast precision (auto: bfloat16 on CUDA, float16+GradScaler where bf16 is missing, float32 on CPU)",
        choices=["auto", "float32", "bfloat16", "float16"],
    )
    batch_size: int = _opt(0, "sequences per micro-batch per process (0: auto)")
    grad_accum: int = _opt(0, "micro-batches per step over all processes (0: one per process)")
    block_size: int = _opt(0, "tokens per sequence (0: the size's default, shrunk to fit the data)")
    learning_rate: float = _opt(0.0, "peak learning rate (0: the size's default)")
    min_lr_ratio: float = _opt(0.1, "final learning rate as a fraction of the peak")
    warmup_steps: int = _opt(-1, "linear warm-up steps (-1: auto, 5%% of max_steps up to 100)")
    weight_decay: float = _opt(0.1, "AdamW weight decay on matrices")
    beta1: float = _opt(0.9, "AdamW beta1")
    beta2: float = _opt(0.95, "AdamW beta2")
    grad_clip: float = _opt(1.0, "clip gradients to this global norm (0: off)")
    dropout: float = _opt(0.0, "dropout (breaks bitwise equality between process counts)")
    eval_interval: int = _opt(0, "steps between validations (0: auto, a tenth of the run)")
    eval_iters: int = _opt(20, "validation batches per validation")
    patience: int = _opt(3, "stop after this many validations without improvement (0: never)")
    min_delta: float = _opt(
        1e-3, "an improvement of validation loss smaller than this does not count"
    )
    checkpoint_interval: int = _opt(0, "steps between checkpoints (0: at every validation)")
    log_interval: int = _opt(10, "steps between log lines")
    seed: int = _opt(1337, "seed of initialisation, sampling and dropout")
    compile: str = _opt(
        "auto", "torch.compile the model (auto: on CUDA only)", choices=["auto", "on", "off"]
    )
    resume: bool = _opt(False, "continue from OUT/checkpoint.pt when it exists")
    progress: str = _opt(
        "auto", "progress bar (auto: when stdout is a terminal)", choices=["auto", "on", "off"]
    )
    log_format: str = _opt(
        "text", "log lines as text or JSON objects (for log streaming)", choices=["text", "json"]
    )
    peak_flops: float = _opt(0.0, "peak FLOP/s of one device for MFU (0: from the device name)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser(
    prog: str | None = None, description: str | None = None
) -> argparse.ArgumentParser:
    """An ``argparse`` parser with one flag per :class:`TrainConfig` field."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for f in fields(TrainConfig):
        meta = dict(f.metadata)
        help_ = meta.pop("help", None)
        required = f.default is MISSING
        if f.type in ("bool", bool):
            parser.add_argument(_flag(f.name), action="store_true", help=help_)
            continue
        kind = {"int": int, "float": float, "str": str}.get(str(f.type), str)
        kwargs: dict[str, Any] = {"type": kind, "help": help_, "dest": f.name}
        if required:
            kwargs["required"] = True
        else:
            kwargs["default"] = f.default
        kwargs.update(meta)
        parser.add_argument(_flag(f.name), **kwargs)


def from_namespace(ns: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(ns).items() if k in names})


def parse_args(argv: list[str] | None = None, prog: str | None = None) -> TrainConfig:
    return from_namespace(build_parser(prog).parse_args(argv))


def options_to_argv(options: dict[str, Any]) -> list[str]:
    """Flags for ``train.py`` from ``{"max_steps": 10, "resume": True}``; unknown keys raise."""
    names = {f.name: f for f in fields(TrainConfig)}
    argv: list[str] = []
    for key, value in options.items():
        key = key.replace("-", "_")
        if key not in names:
            raise ValueError(f"unknown training option {key!r}")
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                argv.append(_flag(key))
            continue
        argv += [_flag(key), str(value)]
    return argv
