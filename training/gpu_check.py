"""The GPU check of issue 5, prepared to run in one call on a lent GPU machine.

Builds a real token dataset (the shell-aware sentencepiece tokenizer trained on the sample
history shipped in ``examples/``), then through the same entry points users run:

1. ``train.py`` for ``small`` and ``base``, bf16 and fp32, a fixed number of steps each:
   tokens/s, MFU (dense bf16 peak by device name) and the loss curves side by side;
2. ``train_multi.py`` under torchrun on every GPU found.

Prints a table and writes ``$OUT/gpu_check.json`` and ``$OUT/gpu_check.md`` (a section to
paste into ``training/LOG.md`` with the device name).

    python training/gpu_check.py --out $OUT [--steps 300] [--sizes small,base] [--device cuda]

``--device cpu --sizes tiny --steps 10`` runs the same path here, without a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_dataset(home: Path) -> Path:
    """Import the sample history, train a tokenizer, build a dataset; return its directory."""
    env = {**os.environ, "DELTA_HOME": str(home)}
    delta = [sys.executable, "-c", "from delta_core.cli import main; main()"]
    for args in (
        ["memory", "import", "--from", "jsonl", str(ROOT / "examples" / "sample_history.jsonl")],
        ["tokenizer", "train", "--vocab-size", "2048"],
        ["tokenizer", "dataset", "build", "--name", "gpu-check"],
    ):
        subprocess.run([*delta, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return home / "datasets" / "gpu-check"


def run(script: str, dataset: Path, out: Path, extra: list[str], timeout: float) -> list[dict]:
    """Run a training entry point with JSON logs; return its events."""
    cmd = [sys.executable, str(ROOT / "training" / script), "--dataset", str(dataset),
           "--out", str(out), "--log-format", "json", "--progress", "off", *extra]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    events = []
    for line in proc.stdout.splitlines() + proc.stderr.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        events.append({"event": "error", "returncode": proc.returncode, "tail": tail})
    events.append({"event": "wall", "seconds": time.perf_counter() - t})
    return events


def summary(events: list[dict]) -> dict:
    steps = [e for e in events if e.get("event") == "step"]
    warm = steps[len(steps) // 2 :] or steps  # past compilation and warm-up
    start = next((e for e in events if e.get("event") == "start"), {})

    def mean(key):
        vals = [e[key] for e in warm if e.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    return {
        "params": start.get("params"),
        "device": start.get("device"),
        "dtype": start.get("dtype"),
        "world_size": start.get("world_size"),
        "tokens_per_s": mean("tokens_per_s"),
        "mfu": mean("mfu"),
        "ms_per_step": mean("ms_per_step"),
        "loss_curve": [(e["step"], round(e["loss"], 4)) for e in steps],
        "val_loss": [
            (e["step"], round(e["val_loss"], 4)) for e in events if e.get("event") == "eval"
        ],
        "error": next((e for e in events if e.get("event") == "error"), None),
    }


def device_name(device: str) -> str:
    if device == "cpu":
        return "cpu"
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-check-out")))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--sizes", default="small,base")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--timeout", type=float, default=240, help="seconds per training run")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="delta-gpu-check-"))
    dataset = build_dataset(work / "home")
    common = ["--max-steps", str(args.steps), "--device", args.device, "--log-interval", "10",
              "--eval-interval", str(max(10, args.steps // 5)), "--patience", "0"]  # fmt: skip
    results: dict[str, dict] = {"device": device_name(args.device)}
    for size in args.sizes.split(","):
        for dtype in ("bfloat16", "float32"):
            name = f"{size}-{dtype}"
            ev = run("train.py", dataset, work / name, [*common, "--model-size", size,
                     "--dtype", dtype], args.timeout)  # fmt: skip
            results[name] = summary(ev)
            print(
                f"{name}: {json.dumps({k: v for k, v in results[name].items() if 'curve' not in k and k != 'val_loss'})}",
                flush=True,
            )
    multi = args.sizes.split(",")[0]
    ev = run("train_multi.py", dataset, work / "multi", [*common, "--model-size", multi],
             args.timeout * 2)  # fmt: skip
    results[f"{multi}-torchrun"] = summary(ev)
    (args.out / "gpu_check.json").write_text(json.dumps(results, indent=1))
    lines = [f"## GPU check on {results['device']} ({time.strftime('%Y-%m-%d')})", "",
             "| run | params | world | dtype | tokens/s | MFU | ms/step | final loss | error |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        if name == "device":
            continue
        tps = f"{r['tokens_per_s']:,.0f}" if r["tokens_per_s"] else "-"
        mfu = f"{r['mfu']:.1%}" if r["mfu"] else "-"
        ms = f"{r['ms_per_step']:.1f}" if r["ms_per_step"] else "-"
        final = r["loss_curve"][-1][1] if r["loss_curve"] else "-"
        err = r["error"]["tail"][-1][:60] if r["error"] else ""
        lines.append(f"| {name} | {r['params']} | {r['world_size']} | {r['dtype']} | {tps} | "
                     f"{mfu} | {ms} | {final} | {err} |")  # fmt: skip
    lines += ["", "bf16 vs fp32 loss (step: bf16 / fp32):"]
    for size in args.sizes.split(","):
        a, b = results[f"{size}-bfloat16"]["loss_curve"], results[f"{size}-float32"]["loss_curve"]
        pairs = ", ".join(
            f"{s}: {x} / {y}"
            for (s, x), (_, y) in list(zip(a, b, strict=False))[:: max(1, len(a) // 8)]
        )
        lines.append(f"- {size}: {pairs}")
    text = "\n".join(lines) + "\n"
    (args.out / "gpu_check.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
