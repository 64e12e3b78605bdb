"""``delta eval`` over real personal shell histories (bash, zsh, fish; full command lines).

The histories are the shared dev set ``public_histories`` (see its ``SOURCE.md``; never
copied into the repository). Each is read with its importer and the privacy filters, as
``delta eval --from <shell>`` reads a file; the first 80 % is the train history (a small
model is trained on it on the CPU and its weight against history fitted on its last
tenth), the rest is replayed in order with the fixed protocol of
:mod:`delta_core.learn.eval.protocol` (history = train + the test commands before).

Printed per history and pooled (bash + zsh, fish, all; pooled from raw counts, so a long
history weighs more): top-1 and keystroke savings of ``recent``, ``frequent``,
``match_prev_cmd``, ``bigram``, Delta without its model (``delta_no_model``) and Delta with
it (``delta``), the word-acceptance keystroke savings beside the fixed one, the fitted
weight, and the issue's targets (bash + zsh: KS ≥ 1.3× ``recent``'s, the model adding ≥ 5
points over Delta without it, top-1 ≥ 1.5× ``bigram``'s; fish: ≥ 3 points over the best
baseline). Every figure is a ratio or difference measured in the same run.

``--subset dev16`` (the default) is the fixed quick set: 12 bash/zsh histories (every 7th
of their sorted file names, from the first) and 4 fish histories (every 9th). A quick run
caps the test commands per history (``--limit``, 300 by default; ``--limit 0`` replays the
whole test part) and says so in its title. One quick run on this 2-core machine takes about
10 minutes (``nice`` it).

Usage::

    nice python benchmarks/eval_histories.py                        # dev16, 300 test cmds each
    nice python benchmarks/eval_histories.py --subset all --limit 0 --save all.json
    nice python benchmarks/eval_histories.py --no-model --limit 0   # history strategies only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = Path(
    os.environ.get("DELTA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
HISTORIES = "public_histories"
TRAIN_FRACTION = 0.8
STRATEGIES = ("recent", "frequent", "match_prev_cmd", "bigram", "delta_no_model", "delta")
BASELINES = STRATEGIES[:4]
NO_MODEL = "delta_no_model"


def history_files(data: Path = DATA) -> dict[str, list[Path]]:
    """The raw history files by shell (bash, zsh, fish), sorted by name."""
    out: dict[str, list[Path]] = {"bash": [], "zsh": [], "fish": []}
    for path in sorted((data / HISTORIES / "raw").glob("*.txt")):
        shell = path.stem.rsplit("__", 1)[-1]
        if shell in out:
            out[shell].append(path)
    return out


def dev16(data: Path = DATA) -> list[Path]:
    """The fixed quick subset: every 7th bash/zsh history by sorted name (12), every 9th
    fish one (4)."""
    files = history_files(data)
    shells = sorted(files["bash"] + files["zsh"], key=lambda p: p.name)
    return [*shells[::7][:12], *files["fish"][::9][:4]]


def select(subset: str, data: Path = DATA) -> list[Path]:
    if subset == "dev16":
        return dev16(data)
    files = history_files(data)
    if subset == "all":
        return sorted((p for ps in files.values() for p in ps), key=lambda p: p.name)
    if subset in files:
        return files[subset]
    wanted = [s.strip() for s in subset.split(",") if s.strip()]
    everything = {p.name: p for ps in files.values() for p in ps}
    missing = [w for w in wanted if w not in everything]
    if missing:
        raise SystemExit(f"no such history: {', '.join(missing)}")
    return [everything[w] for w in wanted]


def shell_of(path: Path) -> str:
    return path.stem.rsplit("__", 1)[-1]


def split_history(ctx: Any, path: Path) -> tuple[list, list]:
    """Train and test records of one history, read as ``delta eval --from <shell>`` does."""
    from delta_core.cli.eval_cmd import read_history

    records = read_history(ctx, path, shell_of(path))
    cut = int(len(records) * TRAIN_FRACTION)
    return records[:cut], records[cut:]


def eval_history(path: Path, ctx: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Train (unless ``--no-model``), replay; the eval result with timings."""
    from delta_core.learn.eval.protocol import evaluate

    train, test = split_history(ctx, path)
    full = len(test)
    if args.limit:
        test = test[: args.limit]
    completer = None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="delta-eval-hist-") as tmp:
        if not args.no_model:
            from delta_core.learn.eval.model import train_eval_model
            from delta_core.suggest.completer import ModelCompleter

            plugins = ctx.components.tokenizers
            if args.rerank is not None:
                import delta_core.suggest.completer as completer_module

                completer_module.RERANK = args.rerank  # the weight fit's completer too
            model_dir = train_eval_model(
                train, Path(tmp), plugins, model_size=args.model_size, max_steps=args.steps
            )
            completer = ModelCompleter.from_dir(model_dir, plugins)
            if args.rerank is not None:
                completer.rerank = args.rerank
            if args.one_weight:  # the weight of the empty prompt everywhere, as before
                completer.typed_weight = completer.model_weight
        t1 = time.perf_counter()
        result = evaluate(train, test, completer, others={NO_MODEL: None})
    t2 = time.perf_counter()
    if completer is None:  # the model-less engine is Delta here
        result["strategies"].pop("delta")
    return {
        **result,
        "shell": shell_of(path),
        "train_commands": len(train),
        "test_commands_total": full,
        "train_s": round(t1 - t0, 1),
        "replay_s": round(t2 - t1, 1),
    }


def pool(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Strategy -> pooled top-1, keystroke savings and word-acceptance savings."""
    out: dict[str, dict[str, float]] = {}
    for name in STRATEGIES:
        rows = [r["strategies"][name]["counts"] for r in results if name in r["strategies"]]
        if not rows:
            continue
        n = sum(c["commands"] for c in rows)
        chars = sum(c["chars"] for c in rows)
        out[name] = {
            "top1": sum(c["top1"] for c in rows) / n if n else 0.0,
            "keystroke_savings": 1 - sum(c["keys"] for c in rows) / chars if chars else 0.0,
            "keystroke_savings_words": (
                1 - sum(c["word_keys"] for c in rows) / chars if chars else 0.0
            ),
            "commands": n,
        }
    return out


def targets(pooled: dict[str, dict[str, float]], group: str) -> dict[str, Any]:
    """The issue's Done-when figures for a pooled group."""
    best = "delta" if "delta" in pooled else NO_MODEL
    d = pooled[best]
    out: dict[str, Any] = {}
    ks = d["keystroke_savings"]
    if group == "bash+zsh":
        out["ks_vs_recent"] = ks / pooled["recent"]["keystroke_savings"]
        out["top1_vs_bigram"] = d["top1"] / pooled["bigram"]["top1"]
        out["model_adds_ks_points"] = 100 * (ks - pooled[NO_MODEL]["keystroke_savings"])
        out["met"] = (
            out["ks_vs_recent"] >= 1.3
            and out["model_adds_ks_points"] >= 5
            and out["top1_vs_bigram"] >= 1.5
        )
    elif group == "fish":
        base = max(pooled[b]["keystroke_savings"] for b in BASELINES)
        out["ks_points_over_best_baseline"] = 100 * (ks - base)
        out["met"] = out["ks_points_over_best_baseline"] >= 3
    return out


def _table(title: str, rows: dict[str, dict[str, dict[str, float]]], extra: dict[str, str]):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("history", no_wrap=True)
    for name in STRATEGIES:
        table.add_column(f"{name}\ntop-1 / KS", justify="right")
    table.add_column("delta\nKS words", justify="right")
    for row, strategies in rows.items():
        cells = []
        for name in STRATEGIES:
            m = strategies.get(name)
            cells.append("-" if m is None else f"{m['top1']:.3f} / {m['keystroke_savings']:.3f}")
        best = strategies.get("delta") or strategies.get(NO_MODEL) or {}
        cells.append(f"{best.get('keystroke_savings_words', 0):.3f}")
        table.add_row(row + extra.get(row, ""), *cells)
    return table


def show(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    from rich.console import Console

    con = Console(width=200)
    cap = f"at most {args.limit} test commands per history" if args.limit else "whole test parts"
    model = "no model" if args.no_model else f"{args.model_size} model, {args.steps} steps"
    rows = {}
    extra = {}
    for name, res in results.items():
        rows[name.removesuffix(".txt")] = res["strategies"]
        w = res.get("model_weight")
        extra[name.removesuffix(".txt")] = (
            f" ({res['commands']}" + (f", w {w:.2f}" if w is not None else "") + ")"
        )
    con.print(_table(f"per history ({cap}; {model})", rows, extra))
    groups = {
        "bash+zsh": [r for r in results.values() if r["shell"] in ("bash", "zsh")],
        "fish": [r for r in results.values() if r["shell"] == "fish"],
        "all": list(results.values()),
    }
    pooled = {g: pool(rs) for g, rs in groups.items() if rs}
    con.print(_table(f"pooled ({cap}; {model})", pooled, {}))
    found = {}
    for g in ("bash+zsh", "fish"):
        if g in pooled:
            found[g] = t = targets(pooled[g], g)
            figures = ", ".join(f"{k} {v:.2f}" for k, v in t.items() if k != "met")
            con.print(f"{g}: {figures} -> target {'met' if t['met'] else 'not met'}")
    wins = [r["model_wins"] for r in results.values() if "model_wins" in r]
    if wins:
        places = ("empty_prompt", "command_name", "arguments")
        keys = {p: sum(w["keys_saved_by_place"][p] for w in wins) for p in places}
        better = sum(w["better"] for w in wins)
        worse = sum(w["worse"] for w in wins)
        con.print(
            f"model vs history alone: {better} commands in fewer keys, {worse} in more; "
            + ", ".join(f"{keys[p]} keys saved at {p}" for p in places)
        )
    return {"pooled": pooled, "targets": found}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subset", default="dev16", help="dev16, all, bash, zsh, fish or file names")
    p.add_argument("--limit", type=int, default=300, help="test commands per history (0: all)")
    p.add_argument("--steps", type=int, default=300, help="training steps of each model")
    p.add_argument("--model-size", default="tiny")
    p.add_argument("--no-model", action="store_true", help="history strategies only")
    p.add_argument(
        "--one-weight", action="store_true", help="no separate weight for typed prefixes"
    )
    p.add_argument(
        "--rerank", type=int, default=None, help="history candidates the model scores (0: off)"
    )
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    p.add_argument("--save", type=Path, default=None, help="also write the JSON to this file")
    p.add_argument("--list", action="store_true", help="print the subset's files and stop")
    args = p.parse_args(argv)
    files = select(args.subset, args.data)
    if args.list:
        print("\n".join(f.name for f in files))
        return 0

    import onnxruntime  # noqa: F401  (before anything loads usearch: see tests/conftest.py)
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="delta-eval-home-") as home:
        os.environ["DELTA_HOME"] = home  # the default plugins and filters, nothing of yours
        from delta_core.context import DeltaContext

        ctx = DeltaContext()
        results: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        t0 = time.perf_counter()
        try:
            for f in files:
                print(f"{f.name}: training and replaying…", file=sys.stderr, flush=True)
                try:
                    results[f.name] = eval_history(f, ctx, args)
                except Exception as exc:  # reported, and the run goes on
                    print(f"{f.name}: FAILED: {exc!r}", file=sys.stderr, flush=True)
                    failed[f.name] = repr(exc)
                if args.save is not None:  # after each history: a long run loses nothing
                    _save(args, results, failed)
        finally:
            ctx.close()
    summary = show(results, args)
    load = os.getloadavg()
    print(f"{len(files)} histories in {time.perf_counter() - t0:.0f} s; load {load[0]:.2f}")
    for name, why in failed.items():
        print(f"FAILED {name}: {why}")
    if args.save is not None:
        _save(args, results, failed, summary)
    return 1 if failed else 0


def _save(
    args: argparse.Namespace,
    results: dict[str, Any],
    failed: dict[str, str],
    summary: dict[str, Any] | None = None,
) -> None:
    out = {"args": {k: str(v) for k, v in vars(args).items()}, **(summary or {})}
    out["failed"] = failed
    out["histories"] = results
    args.save.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
