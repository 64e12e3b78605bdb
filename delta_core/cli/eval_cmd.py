"""``delta eval``: measure suggestions on a held-back history, against the baselines.

``delta eval --train A --test B --from bash`` reads two histories with an importer plugin,
trains a small model on ``A`` only (unless ``--model`` names a registered one), replays
``B`` and prints top-1, top-5, keystroke savings, latency and perplexity for ``delta`` and
the baselines ``recent``, ``frequent``, ``match_prev_cmd`` and ``bigram``. Without files it
splits the memory in time (``--split``). See :mod:`delta_core.learn.eval.protocol` for the protocol.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from delta_core.cli.common import json_option, load_context
from delta_core.lm.config import size_names


def read_history(ctx, path: Path, fmt: str) -> list:
    """The records of ``path`` read by importer ``fmt``, filtered, timestamped in order."""
    from delta_core.memory.privacy import apply_filters
    from delta_core.plugin.protocols import ImportProblem

    importers = ctx.components.importers
    if fmt not in importers:
        known = ", ".join(sorted(importers))
        raise click.ClickException(f"no importer named {fmt!r}; available: {known}")
    if not path.is_file():
        raise click.ClickException(f"{path}: no such file")
    out = []
    filters = ctx.filters
    for item in importers[fmt].read(path):
        if isinstance(item, ImportProblem) or not item.command.strip():
            continue
        verdict = apply_filters(filters, item.command, item.cwd)
        if verdict.action == "drop":
            continue
        out.append(item.with_command(verdict.command) if verdict.action == "redact" else item)
    # A history without times keeps its order: one minute apart, after any timed part.
    last = 0
    for rec in out:
        if rec.start_ns <= last:
            rec.start_ns = last + 60_000_000_000
        last = rec.start_ns
    return out


def _store_split(ctx, fraction: float) -> tuple[list, list]:
    records = list(ctx.store.iter_records())
    cut = len(records) - max(1, round(len(records) * fraction))
    if cut < 1:
        raise click.ClickException("the memory holds too few commands to split; use --train/--test")
    return records[:cut], records[cut:]


def _completer(
    ctx, train, model: str | None, model_size: str, steps: int, workdir: Path, say, backend="auto"
):
    from delta_core.suggest.completer import ModelCompleter

    plugins = ctx.components.tokenizers
    if model:
        from delta_core.learn.registry import RegistryError, get_model

        try:
            info = get_model(ctx.layout, None if model == "latest" else model)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from None
        return ModelCompleter.from_dir(info.path, plugins, backend=backend), info.version
    from delta_core.learn.eval.model import train_eval_model

    say(f"training a {model_size} model on {len(train)} train commands ({steps} steps)…")
    model_dir = train_eval_model(train, workdir, plugins, model_size=model_size, max_steps=steps)
    return ModelCompleter.from_dir(
        model_dir, plugins
    ), f"trained here ({model_size}, {steps} steps)"


@click.command("eval")
@click.option("--train", "train_file", type=click.Path(path_type=Path), help="Train history.")
@click.option("--test", "test_file", type=click.Path(path_type=Path), help="Test history.")
@click.option("--from", "fmt", default="jsonl", show_default=True, help="Importer of both files.")
@click.option("--model", default=None, help="A registered model version (or 'latest').")
@click.option("--no-model", is_flag=True, help="History ranking only: no model at all.")
@click.option("--model-size", type=click.Choice(size_names()), default="tiny", show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Test commands at most.")
@click.option(
    "--split",
    type=click.FloatRange(0.01, 0.9),
    default=0.1,
    show_default=True,
    help="Without files: the newest share of the memory is the test history.",
)
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="Write a PNG chart.")
@click.option(
    "--backend",
    type=click.Choice(["auto", "torch", "onnx", "onnx-int8"]),
    default="auto",
    show_default=True,
    help="How --model runs (onnx-int8: the dynamically quantized export).",
)
@json_option
def eval_cmd(
    train_file,
    test_file,
    fmt,
    model,
    no_model,
    model_size,
    steps,
    limit,
    split,
    plot,
    backend,
    as_json,
) -> None:
    """Replay a test history and compare Delta's suggestions with the baselines."""
    import torch

    from delta_core.cli.render import console, err_console, progress
    from delta_core.learn.deploy import NO_MODEL, learned_lines
    from delta_core.learn.eval.protocol import evaluate
    from delta_core.learn.eval.report import plot as draw
    from delta_core.learn.eval.report import ratios, render_table, wins_line

    torch.set_num_threads(1)  # a shared laptop: one core for the eval
    ctx = load_context()
    say = (lambda t: err_console.print(t)) if as_json else (lambda t: console.print(t))
    if (train_file is None) != (test_file is None):
        raise click.UsageError("give both --train and --test, or neither (a split of the memory)")
    if train_file is not None:
        train = read_history(ctx, train_file, fmt)
        test = read_history(ctx, test_file, fmt)
        last = train[-1].start_ns if train else 0
        for i, rec in enumerate(test):  # the test history comes after the train history
            rec.start_ns = max(rec.start_ns, last + (i + 1) * 60_000_000_000)
    else:
        train, test = _store_split(ctx, split)
    if limit:
        test = test[:limit]
    if not train or not test:
        raise click.ClickException("both histories must hold at least one command")
    with tempfile.TemporaryDirectory(prefix="delta-eval-") as tmp:
        completer, model_name = (None, "none")
        if not no_model:
            completer, model_name = _completer(
                ctx, train, model, model_size, steps, Path(tmp), say, backend
            )
        with progress("replaying the test history", len(test)) as advance:
            # Delta without its model runs beside: what the model adds, and where
            others = {NO_MODEL: None} if completer is not None else None
            result = evaluate(train, test, completer, others=others, progress=lambda i: advance(1))
    if plot is not None:
        draw(result, plot)
    if as_json:
        click.echo(json.dumps(result))
        return
    console.print(render_table(result))
    for name, value in ratios(result).items():
        console.print(f"{name}: {value:.2f}×")
    weight = f"; fitted weight against history {result['model_weight']:.2f}"
    console.print(
        f"model: {model_name}{weight if 'model_weight' in result else ''}; "
        f"{len(train)} train commands"
    )
    if wins_line(result):
        console.print(wins_line(result))
    for line in learned_lines(result.get("model_examples") or []):
        console.print(line, markup=False, highlight=False)
    if plot is not None:
        console.print(f"chart written to {plot}")
