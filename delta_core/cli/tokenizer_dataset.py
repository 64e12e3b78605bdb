"""``delta tokenizer dataset build|stats``: the training data, from the memory to token files."""

from __future__ import annotations

import json

import click

from delta_core.cli.common import json_option, load_context, parse_time
from delta_core.cli.tokenizer import ERRORS, console, fail, load_active, progress_bars, tokenizer


@click.group("dataset")
def dataset() -> None:
    """Build and inspect token datasets (datasets/<name>/train.bin, val.bin, meta.json)."""


@dataset.command("build")
@click.option("--name", default="default", show_default=True, help="Dataset name.")
@click.option("--since", help="Only commands since DATE (2026-01-31, 30d, 12h).")
@click.option("--until", help="Only commands until DATE.")
@click.option(
    "--val-fraction",
    type=click.FloatRange(0.0, 0.9),
    default=0.1,
    show_default=True,
    help="Share of the latest commands kept for validation.",
)
@click.option("--keep-duplicates", is_flag=True, help="Keep consecutive repeats of a command.")
@click.option("--replace", is_flag=True, help="Replace a dataset made by another tokenizer.")
@json_option
def build(
    name: str,
    since: str | None,
    until: str | None,
    val_fraction: float,
    keep_duplicates: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Extract the filtered history into a token dataset with the active tokenizer."""
    from delta_core.learn.dataset_build import build_dataset

    ctx = load_context()
    tok = load_active(None, ctx)
    try:
        with progress_bars("commands read", "commands written") as (read, write):
            meta = build_dataset(
                ctx,
                name,
                tok=tok,
                since_ns=parse_time(since),
                until_ns=parse_time(until),
                val_fraction=val_fraction,
                collapse_duplicates=not keep_duplicates,
                replace=replace,
                read_progress=read,
                write_progress=write,
            )
    except ERRORS as exc:
        raise fail(exc) from None
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps(meta))
        return
    tr, va = meta["splits"]["train"], meta["splits"]["val"]
    ex = meta["extraction"]
    click.echo(
        f"dataset {name}: train {tr['examples']} commands / {tr['tokens']} tokens, "
        f"val {va['examples']} commands / {va['tokens']} tokens ({meta['dtype']}, "
        f"tokenizer {meta['tokenizer_version']}); filters dropped {ex['dropped']}, "
        f"redacted {ex['redacted']}; {ex['collapsed']} repeats collapsed"
    )


@dataset.command("stats")
@click.argument("name", default="default")
@click.option("--top", default=10, show_default=True, help="Most frequent tokens to list.")
@json_option
def stats(name: str, top: int, as_json: bool) -> None:
    """Tokens, commands and sessions per split of dataset NAME."""
    from delta_core.learn.dataset_build import dataset_dir
    from delta_core.learn.datasets import read_meta
    from delta_core.learn.token_stats import dataset_stats

    ctx = load_context()
    try:
        directory = dataset_dir(ctx, name)
        meta = read_meta(directory)
        tok = load_active(meta.get("tokenizer_version"), ctx)
        result = dataset_stats(directory, tok, top=top)
    except ERRORS as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    from rich.table import Table

    table = Table(title=f"dataset {name} (tokenizer {result['tokenizer_version']})")
    for col in ("split", "commands", "sessions", "tokens", "tokens/command", "size"):
        table.add_column(col, justify="right")
    for split, s in result["splits"].items():
        table.add_row(
            split,
            str(s["examples"]),
            str(s["sessions"]),
            str(s["tokens"]),
            f"{s['tokens_per_example']:.1f}",
            f"{s['bytes'] / 1024:.0f} KiB",
        )
    out = console()
    out.print(table)
    if result.get("top_tokens"):
        out.print(
            "most frequent: "
            + ", ".join(f"{t['piece']!r} {t['share']:.1%}" for t in result["top_tokens"])
        )


tokenizer.add_command(dataset)
