"""``delta-train`` (also ``delta train``): train a model on your history and register it.

With no flags it builds a dataset from the memory, trains the configured size
(``train.model_size``, ``small``) with the configured trainer (``train.trainer``, ``docker``)
and registers the model; ``--trainer local`` trains on this host instead. A run that was
interrupted continues with ``--resume``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from delta_core.cli.common import json_option, load_context
from delta_core.learn.train.config import options_to_argv
from delta_core.lm.config import size_names


def _parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        options[key.strip().replace("-", "_")] = value.strip()
    try:
        options_to_argv(options)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None
    return options


@click.command("train")
@click.option(
    "--trainer", default=None, help="Trainer plugin: docker or local [config train.trainer]."
)
@click.option(
    "--model-size",
    type=click.Choice(size_names()),
    default=None,
    help="Model size [config train.model_size].",
)
@click.option(
    "--max-steps", type=click.IntRange(min=1), default=None, help="Optimizer steps (default: auto)."
)
@click.option(
    "--gpus", type=click.IntRange(min=0), default=None, help="GPUs to use (default: all; 0: CPU)."
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default=None,
    help="Train on the CPU or a GPU (default: a GPU when there is one).",
)
@click.option(
    "--dataset",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Train on this token dataset instead of building one from the memory.",
)
@click.option(
    "--retrain-tokenizer",
    is_flag=True,
    help="Train a new tokenizer on the history first (default: reuse the active one).",
)
@click.option(
    "--context",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Delta source tree the docker trainer builds its image from (a clone or the "
    "unpacked sdist) [config train.docker_context].",
)
@click.option("--resume", is_flag=True, help="Continue the last interrupted run.")
@click.option(
    "--promote/--no-promote",
    default=True,
    help="Serve the new model if it beats the current one and the baselines (default).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other train.py setting, e.g. --set batch_size=8 (repeatable).",
)
@json_option
def train(
    trainer: str | None,
    model_size: str | None,
    max_steps: int | None,
    gpus: int | None,
    device: str | None,
    dataset: Path | None,
    retrain_tokenizer: bool,
    context: Path | None,
    resume: bool,
    promote: bool,
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Train a model on your history with a trainer plugin and register it."""
    from delta_core.learn.train.data import DatasetError
    from delta_core.learn.train.pipeline import TrainPipelineError, TrainRequest, run_training

    if context is not None:
        # The trainer plugin reads its settings itself; the flag overrides the setting.
        os.environ["DELTA_TRAIN_DOCKER_CONTEXT"] = str(context.expanduser().resolve())
    ctx = load_context()
    options: dict[str, object] = dict(_parse_sets(sets))
    if device:
        options["device"] = device
    request = TrainRequest(
        trainer=trainer or ctx.config["train.trainer"],
        model_size=model_size or ctx.config["train.model_size"],
        max_steps=max_steps,
        gpus=gpus,
        dataset=dataset,
        retrain_tokenizer=retrain_tokenizer,
        options=options,
    )
    say = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    try:
        from delta_core.cli.tokenizer import progress_bars

        info = run_training(ctx, request, resume=resume, progress=progress_bars, say=say)
        if promote:
            from delta_core.learn.promotion import after_training

            say(after_training(ctx, info))
    except (TrainPipelineError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps(info.to_dict()))
        return
    loss = "-" if info.val_loss is None else f"{info.val_loss:.4f}"
    click.echo(f"registered model {info.version} (validation loss {loss}) in {info.path}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``delta-train`` console script."""
    from delta_core.config import ConfigError

    try:
        train.main(args=argv, prog_name="delta-train", standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"delta-train: {exc}", err=True)
        sys.exit(2)
