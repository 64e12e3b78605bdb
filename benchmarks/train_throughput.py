"""Training throughput on this machine's CPU: tokens/s of the Delta training loop per size.

For each model size the full loop (:func:`delta_core.learn.train.loop.train`: counter-based batches
from a memory-mapped dataset, autocast context, grad clipping, cosine LR, logging) runs a
fixed number of steps; the baseline, measured in the same run with the same shapes and
thread count, is a bare PyTorch loop (random ids already in memory, forward, backward, AdamW).
The ratio loop/bare is the loop's overhead (1.0 = none). The dataset is NL2Bash
(../shared/data/nl2bash) as bytes, written by the tests' stand-in tokenizer.

    python benchmarks/train_throughput.py [--sizes tiny,small] [--threads N] [--repeat 2]

Each figure is the best of ``--repeat`` measurements, bare and loop interleaved, so a burst of
load from other processes on a shared machine does not decide the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "training"))

import torch  # noqa: E402
from byte_dataset import VOCAB, write_dataset  # noqa: E402

from delta_core.learn.train.config import TrainConfig  # noqa: E402
from delta_core.learn.train.loop import train  # noqa: E402
from delta_core.learn.train.plan import AUTO_BATCH, AUTO_CPU_BLOCK  # noqa: E402
from delta_core.lm.config import config_for_size  # noqa: E402
from delta_core.lm.gpt import GPT  # noqa: E402

# the shapes delta-train picks on a CPU (delta_core.learn.train.plan), and steps per measurement
SHAPES = {size: (AUTO_BATCH["cpu"][size], AUTO_CPU_BLOCK) for size in AUTO_BATCH["cpu"]}
STEPS = {"tiny": 30, "small": 8, "base": 4}


def bare_tokens_per_s(size: str, steps: int, warmup: int = 2) -> float:
    batch, block = SHAPES[size]
    torch.manual_seed(0)
    model = GPT(config_for_size(size, VOCAB, block_size=block))
    opt = model.configure_optimizer(0.1, 1e-3, (0.9, 0.95), "cpu")
    x = torch.randint(0, VOCAB, (batch, block))
    y = torch.randint(0, VOCAB, (batch, block))
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        loss = model(x, y).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * batch * block / (time.perf_counter() - start)


def loop_tokens_per_s(size: str, steps: int, dataset: Path, out: Path) -> dict:
    batch, block = SHAPES[size]
    cfg = TrainConfig(
        dataset=str(dataset),
        out=str(out),
        model_size=size,
        device="cpu",
        batch_size=batch,
        block_size=block,
        max_steps=steps + 2,
        log_interval=2,  # the first window (2 steps: warm-up) is kept out of the mean
        eval_iters=0,
        checkpoint_interval=10**6,
        progress="off",
        log_format="json",
    )
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return train(cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,small")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    args = ap.parse_args()
    threads = args.threads or os.cpu_count() or 1
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the loop must not pick its own count
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, {threads} thread(s), load average {os.getloadavg()[0]:.1f}")
    print(f"{'size':6} {'params':>8} {'batch x block':>14} {'loop tok/s':>11} "
          f"{'bare tok/s':>11} {'loop/bare':>9} {'GFLOP/s':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_dataset(Path(tmp) / "ds", n_commands=6000)
        for size in args.sizes.split(","):
            batch, block = SHAPES[size]
            bare, loop = 0.0, 0.0
            for _ in range(args.repeat):
                bare = max(bare, bare_tokens_per_s(size, STEPS[size]))
                metrics = loop_tokens_per_s(size, STEPS[size], dataset, Path(tmp) / size)
                loop = max(loop, metrics["tokens_per_s"])
            flops = config_for_size(size, VOCAB, block_size=block).flops_per_token(block)
            print(
                f"{size:6} {metrics['params'] / 1e6:7.2f}M {f'{batch} x {block}':>14} "
                f"{loop:11,.0f} {bare:11,.0f} {loop / bare:9.2f} {flops * loop / 1e9:8.1f}"
            )


if __name__ == "__main__":
    main()
