"""The training loop: one code path for a CPU, one GPU, and many under torchrun (imports torch).

Shaped like nanoGPT's ``train.py``: DDP comes from the environment
(:mod:`delta_core.learn.train.runtime`), the master rank alone logs and writes files, gradient
accumulation is divided across ranks (each rank runs ``grad_accum / world_size``
micro-batches, so the global batch does not depend on the process count), autocast runs in
bf16 (fp16 with a GradScaler on GPUs without bf16), AdamW is fused on CUDA, the learning rate
follows a cosine schedule after a warm-up, validation runs periodically and stops the run
when it no longer improves, and ``torch.compile`` is optional (the uncompiled module is what
gets saved).

A run is deterministic on CPU for a given seed: batches are drawn by counter
(:mod:`delta_core.learn.train.data`), so a run killed and resumed from its checkpoint ends with the
same weights as one left alone, and two processes with ``grad_accum=2`` end where one process
with ``grad_accum=2`` ends (up to floating-point summation order).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from delta_core.learn.train.config import TrainConfig
from delta_core.learn.train.data import TokenDataset
from delta_core.learn.train.log import TrainLogger
from delta_core.learn.train.plan import lr_at, merge_for_resume, resolve_plan
from delta_core.learn.train.runtime import Runtime, all_reduce_sum, gather_objects, setup, teardown
from delta_core.lm import checkpoint as ckpt_io
from delta_core.lm.config import GPTConfig, config_for_size
from delta_core.lm.gpt import GPT
from delta_core.paths import private_dir


@dataclass
class RunState:
    """What the loop carries from step to step besides weights and optimizer."""

    step: int = 0
    best_val: float = math.inf
    bad_evals: int = 0
    initial_val_loss: float | None = None
    train_loss: float | None = None
    val_history: list[list[float]] = field(default_factory=list)
    stopped_early: bool = False
    finished: bool = False


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run (or resume) training as ``cfg`` says; return the metrics (also in metrics.json)."""
    rt = setup(cfg.device, cfg.dtype)
    try:
        return _Run(cfg, rt).run()
    finally:
        teardown(rt)


class _Run:
    def __init__(self, cfg: TrainConfig, rt: Runtime) -> None:
        self.rt = rt
        self.data = TokenDataset.open(cfg.dataset)
        self.out = Path(cfg.out)
        if rt.master:
            private_dir(self.out)
        saved = ckpt_io.load_checkpoint(self.out, "cpu") if cfg.resume else None
        if saved is None and rt.master:
            # a fresh run must not leave an older run's files behind as its own
            for name in (ckpt_io.CHECKPOINT, ckpt_io.WEIGHTS, ckpt_io.CONFIG, ckpt_io.METRICS):
                (self.out / name).unlink(missing_ok=True)
        if saved is not None:
            self._check_dataset(saved)
            self.plan, notes = merge_for_resume(TrainConfig(**saved["plan"]), cfg, rt.world_size)
            self.model_config = GPTConfig.from_dict(saved["model_config"])
            self.state = RunState(**saved["state"])
        else:
            self.plan, notes = resolve_plan(
                cfg,
                device_type=rt.device_type,
                world_size=rt.world_size,
                train_tokens=self.data.tokens("train"),
                max_block=self.data.max_block_size(),
            )
            self.model_config = config_for_size(
                self.plan.model_size,
                self.data.vocab_size,
                block_size=self.plan.block_size,
                dropout=self.plan.dropout,
            )
            self.state = RunState()
        p = self.plan
        self.log = TrainLogger(
            enabled=rt.master,
            progress=p.progress,
            fmt=p.log_format,
            total=p.max_steps,
            start=self.state.step,
        )
        for note in notes:
            self.log.event("note", note, message=note)
        self.accum_local = p.grad_accum // rt.world_size
        self.tokens_per_step = p.batch_size * p.block_size * p.grad_accum
        self._build(saved)

    def _check_dataset(self, saved: dict[str, Any]) -> None:
        had = saved.get("dataset", {})
        now = self.data.stats()
        for key in ("tokenizer_version", "vocab_size"):
            if had.get(key) != now[key]:
                raise ValueError(
                    f"the checkpoint was trained on a dataset with {key}={had.get(key)!r}, this "
                    f"one has {now[key]!r}; train into a new --out instead of --resume"
                )

    def _build(self, saved: dict[str, Any] | None) -> None:
        p, rt = self.plan, self.rt
        torch.manual_seed(p.seed)  # same initial weights on every rank
        self.raw = GPT(self.model_config).to(rt.device)
        self.optimizer = self.raw.configure_optimizer(
            p.weight_decay, p.learning_rate, (p.beta1, p.beta2), rt.device_type
        )
        self.scaler = torch.amp.GradScaler(rt.device_type, enabled=rt.dtype == "float16")
        if saved is not None:
            self.raw.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scaler.load_state_dict(saved["scaler"])
            rngs = saved["rng"]
            if len(rngs) == rt.world_size:
                ckpt_io.set_rng_state(rngs[rt.rank])
            else:
                torch.manual_seed(p.seed + 1 + rt.rank)
        else:
            torch.manual_seed(p.seed + 1 + rt.rank)  # dropout differs across ranks
        model: torch.nn.Module = self.raw
        if p.compile == "on":
            model = torch.compile(model)
        if rt.ddp:
            model = DDP(model, device_ids=[rt.local_rank] if rt.device_type == "cuda" else None)
        self.model = model
        self.peak = p.peak_flops or rt.peak_flops()
        self.flops_per_token = self.model_config.flops_per_token(p.block_size)

    # --- data -------------------------------------------------------------------------
    def _batch(self, split: str, step: int, micro: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.plan
        x, y = self.data.batch(
            split,
            seed=p.seed,
            step=step,
            micro=micro,
            batch_size=p.batch_size,
            block_size=p.block_size,
        )
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        if self.rt.device_type == "cuda":
            return (
                xt.pin_memory().to(self.rt.device, non_blocking=True),
                yt.pin_memory().to(self.rt.device, non_blocking=True),
            )
        return xt, yt

    # --- validation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss over the same ``eval_iters`` validation windows every time, all ranks."""
        self.model.eval()
        total, count = 0.0, 0
        for i in range(self.rt.rank, self.plan.eval_iters, self.rt.world_size):
            x, y = self._batch("val", 0, i)
            with self.rt.autocast():
                total += float(self.raw(x, y).loss)
            count += 1
        self.model.train()
        total, count = all_reduce_sum(self.rt, [total, float(count)])
        return total / max(count, 1.0)

    def _validate(self) -> bool:
        """Validate, keep the best weights; return whether to stop early."""
        s, p = self.state, self.plan
        val = self.evaluate()
        s.val_history.append([s.step, val])
        improved = val < s.best_val - p.min_delta
        if val < s.best_val:
            s.best_val = val
            if self.rt.master:
                ckpt_io.save_weights(self.out, self.raw)
        s.bad_evals = 0 if improved else s.bad_evals + 1
        self.log.kv("eval", "eval", step=s.step, val_loss=val, best=s.best_val)
        return bool(p.patience) and s.bad_evals >= p.patience

    def _checkpoint(self) -> None:
        rngs = gather_objects(self.rt, ckpt_io.rng_state())  # collective: every rank
        if not self.rt.master:
            return
        payload = {
            "model": self.raw.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.state.step,
            "rng": rngs,
            "plan": self.plan.to_dict(),
            "model_config": self.model_config.to_dict(),
            "state": vars(self.state).copy(),
            "data": {"sampler": "counter-v1", "seed": self.plan.seed, "next_step": self.state.step},
            "dataset": self.data.stats(),
        }
        ckpt_io.save_checkpoint(self.out, payload)
        self.log.kv("checkpoint", "checkpoint", step=self.state.step)

    # --- the loop ---------------------------------------------------------------------
    def _train_step(self, step: int) -> torch.Tensor:
        rt, p = self.rt, self.plan
        lr = lr_at(step, p)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = torch.zeros((), device=rt.device)
        for k in range(self.accum_local):
            micro = rt.rank * self.accum_local + k
            x, y = self._batch("train", step, micro)
            last = k == self.accum_local - 1
            sync = contextlib.nullcontext() if last or not rt.ddp else self.model.no_sync()
            with sync, rt.autocast():
                micro_loss = self.model(x, y).loss / self.accum_local
            self.scaler.scale(micro_loss).backward()
            loss += micro_loss.detach()
        if p.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.raw.parameters(), p.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss

    def run(self) -> dict[str, Any]:
        s, p, rt = self.state, self.plan, self.rt
        if s.finished and s.step >= p.max_steps:
            self.log.kv("done", "already trained", step=s.step)
            done = self.out / ckpt_io.METRICS
            if done.exists():
                return json.loads(done.read_text(encoding="utf-8"))
            return self._finish(0.0, 0)
        self.log.kv(
            "start",
            "train" if s.step == 0 else "resume",
            step=s.step,
            max_steps=p.max_steps,
            params=self.raw.num_params(),
            device=rt.device_name(),
            dtype=rt.dtype,
            world_size=rt.world_size,
            tokens_per_step=self.tokens_per_step,
        )
        if s.step == 0 and p.eval_iters:
            s.initial_val_loss = self.evaluate()
            self.log.kv("eval", "eval", step=0, val_loss=s.initial_val_loss)
        s.finished = False
        self.model.train()
        timed_tokens, timed_seconds, first_window = 0, 0.0, True
        window_start, window_steps = time.perf_counter(), 0
        with self.log:
            while s.step < p.max_steps:
                loss = self._train_step(s.step)
                s.step += 1
                window_steps += 1
                self.log.advance(s.step)
                end = s.step >= p.max_steps
                if s.step % p.log_interval == 0 or end:
                    s.train_loss = float(loss)  # syncs the device: only at log steps
                    dt = time.perf_counter() - window_start
                    tok_s = window_steps * self.tokens_per_step / max(dt, 1e-9)
                    # the first window holds compilation and warm-up: keep it out of the mean
                    if not first_window or end:
                        timed_tokens += window_steps * self.tokens_per_step
                        timed_seconds += dt
                    first_window = False
                    self.log.step(
                        s.step,
                        s.train_loss,
                        lr_at(s.step - 1, p),
                        tok_s,
                        self._mfu(tok_s),
                        1000 * dt / window_steps,
                    )
                    window_start, window_steps = time.perf_counter(), 0
                stop = False
                if p.eval_iters and (s.step % p.eval_interval == 0 or end):
                    stop = self._validate()
                    s.stopped_early = stop and not end
                if stop or end:
                    s.finished = True
                if s.step % p.checkpoint_interval == 0 or s.finished:
                    self._checkpoint()
                if s.finished:
                    if s.stopped_early:
                        self.log.kv("note", "stopped early", step=s.step, best_val=s.best_val)
                    break
        return self._finish(timed_seconds, timed_tokens)

    def _mfu(self, tokens_per_s: float) -> float | None:
        if not self.peak:
            return None
        return self.flops_per_token * tokens_per_s / (self.peak * self.rt.world_size)

    def _finish(self, seconds: float, tokens: int) -> dict[str, Any]:
        s, p = self.state, self.plan
        tok_s = tokens / seconds if seconds else None
        metrics = {
            "steps": s.step,
            "max_steps": p.max_steps,
            "tokens_seen": s.step * self.tokens_per_step,
            "train_loss": s.train_loss,
            "initial_val_loss": s.initial_val_loss,
            "val_loss": None if math.isinf(s.best_val) else s.best_val,
            "val_history": s.val_history,
            "stopped_early": s.stopped_early,
            "tokens_per_s": tok_s,
            "mfu": self._mfu(tok_s) if tok_s else None,
            "params": self.raw.num_params(),
            "device": self.rt.device_name(),
            "dtype": self.rt.dtype,
            "world_size": self.rt.world_size,
        }
        if self.rt.master:
            if not (self.out / ckpt_io.WEIGHTS).exists():  # no validation ran: keep the last
                ckpt_io.save_weights(self.out, self.raw)
            ckpt_io.write_json(
                self.out / ckpt_io.CONFIG,
                {
                    "model": self.model_config.to_dict(),
                    "train": p.to_dict(),
                    "dataset": {**self.data.stats(), "path": str(self.data.directory)},
                    "special_ids": self.data.meta.get("special_ids", {}),
                },
            )
            ckpt_io.write_json(self.out / ckpt_io.METRICS, metrics)
            self.log.kv(
                "done",
                "done",
                steps=s.step,
                val_loss=metrics["val_loss"],
                tokens_per_s=tok_s or 0.0,
            )
        return metrics
