"""Turning a :class:`TrainConfig` with ``auto`` values into the exact plan a run follows.

The plan is a ``TrainConfig`` with every zero/``auto`` replaced by a number chosen from the
model size, the device, the number of processes and the size of the dataset. It is stored in
the checkpoint and ``config.json``, so a resumed run follows the plan of the run it continues,
and the learning-rate schedule is a pure function of the step. No torch here.
"""

from __future__ import annotations

import math
from dataclasses import replace

from delta_core.learn.train.config import TrainConfig
from delta_core.learn.train.data import DatasetError
from delta_core.lm.config import SIZES, default_lr

# Upper bounds of the automatic step count: on a laptop CPU "minutes", on a GPU a real run.
AUTO_MAX_STEPS = {"cpu": 200, "cuda": 5000}
AUTO_MIN_STEPS = 50
AUTO_EPOCHS = 2.0
MIN_BLOCK = 8

# sequences per micro-batch: small on CPU (cache-friendly), large on a GPU (saturate it)
AUTO_BATCH = {
    "cpu": {"tiny": 16, "small": 8, "base": 4},
    "cuda": {"tiny": 64, "small": 64, "base": 32},
}
# On a CPU the context is cut to 128 tokens (several commands of a session): `small` trains at
# ~600 tokens/s on one loaded core, so its 256-token default would take half an hour.
AUTO_CPU_BLOCK = 128


def resolve_plan(
    cfg: TrainConfig,
    *,
    device_type: str,
    world_size: int,
    train_tokens: int,
    max_block: int,
) -> tuple[TrainConfig, list[str]]:
    """The resolved plan, and notes for the user about choices that were adjusted."""
    notes: list[str] = []
    if cfg.model_size not in SIZES:
        raise ValueError(f"unknown model size {cfg.model_size!r}; choose one of {', '.join(SIZES)}")
    block = cfg.block_size or int(SIZES[cfg.model_size]["block_size"])
    if not cfg.block_size and device_type == "cpu":
        block = min(block, AUTO_CPU_BLOCK)
    if block > max_block:
        if cfg.block_size:
            raise DatasetError(
                f"--block-size {block} is longer than the data allows ({max_block}); "
                "use a smaller one"
            )
        if max_block < MIN_BLOCK:
            raise DatasetError(
                f"the dataset is too small to train on ({max_block + 1} tokens in its "
                "smallest split); record more history first"
            )
        notes.append(f"block size {block} shrunk to {max_block} to fit the dataset")
        block = max_block
    batch = cfg.batch_size or AUTO_BATCH.get(device_type, AUTO_BATCH["cpu"])[cfg.model_size]
    accum = cfg.grad_accum or world_size
    if accum % world_size:
        raise ValueError(
            f"--grad-accum {accum} is not a multiple of the {world_size} training processes"
        )
    steps = cfg.max_steps
    if steps <= 0:
        per_step = batch * block * accum
        steps = math.ceil(AUTO_EPOCHS * train_tokens / per_step)
        cap = AUTO_MAX_STEPS.get(device_type, AUTO_MAX_STEPS["cpu"])
        steps = max(AUTO_MIN_STEPS, min(cap, steps))
    warmup = cfg.warmup_steps if cfg.warmup_steps >= 0 else min(100, steps // 20)
    eval_interval = cfg.eval_interval or max(1, steps // 10)
    compile_ = cfg.compile
    if compile_ == "auto":
        compile_ = "on" if device_type == "cuda" else "off"
    plan = replace(
        cfg,
        block_size=block,
        batch_size=batch,
        grad_accum=accum,
        max_steps=steps,
        learning_rate=cfg.learning_rate or default_lr(cfg.model_size),
        warmup_steps=warmup,
        eval_interval=eval_interval,
        checkpoint_interval=cfg.checkpoint_interval or eval_interval,
        compile=compile_,
    )
    return plan, notes


def lr_at(step: int, plan: TrainConfig) -> float:
    """Linear warm-up to the peak, then cosine decay to ``min_lr_ratio`` of it at the end."""
    peak = plan.learning_rate
    low = peak * plan.min_lr_ratio
    if step < plan.warmup_steps:
        return peak * (step + 1) / (plan.warmup_steps + 1)
    span = max(1, plan.max_steps - plan.warmup_steps)
    progress = min(1.0, (step - plan.warmup_steps) / span)
    return low + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - low)


# what a resumed run must share with the run it continues, or its batches would differ
RESUME_FIXED = ("model_size", "batch_size", "grad_accum", "block_size", "seed", "dropout")


def merge_for_resume(
    saved: TrainConfig, cfg: TrainConfig, world_size: int
) -> tuple[TrainConfig, list[str]]:
    """The saved plan, with the few settings a resumed run may change taken from ``cfg``.

    Settings that decide the batches or the model come from the checkpoint; where ``cfg``
    asked for something else (not just its default), a note says it was ignored.
    """
    defaults = TrainConfig(dataset="", out="")
    notes = []
    for name in RESUME_FIXED:
        asked, kept = getattr(cfg, name), getattr(saved, name)
        if asked != getattr(defaults, name) and asked != kept:
            notes.append(f"resuming with the checkpoint's {name}={kept!r}, not {asked!r}")
    if saved.grad_accum % world_size:
        raise ValueError(
            f"the checkpoint's grad_accum {saved.grad_accum} does not divide over "
            f"{world_size} processes; resume with a process count that divides it"
        )
    plan = replace(
        saved,
        dataset=cfg.dataset,
        out=cfg.out,
        max_steps=cfg.max_steps or saved.max_steps,
        device=cfg.device,
        dtype=cfg.dtype,
        progress=cfg.progress,
        log_format=cfg.log_format,
        log_interval=cfg.log_interval,
        peak_flops=cfg.peak_flops,
        resume=True,
    )
    return plan, notes
