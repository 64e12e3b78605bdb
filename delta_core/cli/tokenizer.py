"""``delta tokenizer …`` (and ``:tokenizer`` in xonsh): train, inspect and use the tokenizer.

``encode``/``decode`` read one item per line from standard input when given ``-`` and write
one result per line, so they compose with other tools::

    delta tokenizer encode - < commands.txt | delta tokenizer decode - | diff - commands.txt
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from delta_core.cli.common import json_option, load_context, parse_time

ERRORS: tuple[type[Exception], ...] = (ValueError, OSError)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@contextmanager
def progress_bars(*labels: str) -> Iterator[list[Any]]:
    """Rich progress bars on stderr, one per label, in one live display; yields ``advance``s."""
    from rich.progress import (
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        tasks = [bar.add_task(label, total=None) for label in labels]
        yield [lambda n, t=t: bar.advance(t, n) for t in tasks]


def fail(exc: Exception) -> click.ClickException:
    return click.ClickException(" ".join(str(exc).split()))


def load_active(version: str | None = None, ctx=None):
    from delta_core.tokenizer.versions import load_tokenizer

    ctx = ctx or load_context()
    try:
        return load_tokenizer(version, context=ctx)
    except ERRORS as exc:
        raise fail(exc) from None


def read_stdin_lines() -> list[str]:
    """Standard input as lines, undecodable bytes kept (``surrogateescape``)."""
    raw = getattr(sys.stdin, "buffer", None)
    data = raw.read().decode("utf-8", "surrogateescape") if raw is not None else sys.stdin.read()
    if not data:
        return []
    lines = data.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def write_line(text: str) -> None:
    """One line to stdout, bytes that came in undecodable going out as they came."""
    buf = getattr(sys.stdout, "buffer", None)
    if buf is None:  # a text stream (xonsh's alias pipes, StringIO)
        try:
            sys.stdout.write(text + "\n")
        except UnicodeEncodeError:
            sys.stdout.write(text.encode("utf-8", "backslashreplace").decode() + "\n")
        return
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    buf.write(raw + b"\n")
    buf.flush()


@click.group("tokenizer")
def tokenizer() -> None:
    """Train and inspect the shell-aware tokenizer, and build training datasets."""


@tokenizer.command("train")
@click.option("--vocab-size", type=click.IntRange(min=64), help="Vocabulary size.")
@click.option("--since", help="Only commands since DATE (2026-01-31, 30d, 12h).")
@click.option("--no-activate", is_flag=True, help="Keep the current tokenizer active.")
@json_option
def train(vocab_size: int | None, since: str | None, no_activate: bool, as_json: bool) -> None:
    """Train a tokenizer on the (filtered) history and make it the active one."""
    from delta_core.learn.dataset_build import train_on_history

    ctx = load_context()
    since_ns = parse_time(since)
    try:
        with progress_bars("commands read (then training)") as (advance,):
            info, report = train_on_history(
                ctx,
                vocab_size=vocab_size,
                since_ns=since_ns,
                activate=not no_activate,
                progress=advance,
            )
    except ERRORS as exc:
        raise fail(exc) from None
    finally:
        ctx.close()
    cfg = info.config
    if as_json:
        click.echo(json.dumps({"version": info.version, "directory": str(info.directory), **cfg}))
        return
    click.echo(
        f"tokenizer {info.version}: {cfg['vocab_size']} tokens, trained on "
        f"{report.kept} commands ({report.dropped} dropped, {report.redacted} redacted by filters)"
        + ("" if no_activate else "; now active")
    )


@tokenizer.command("encode")
@click.argument("text")
@click.option("--version", "version", help="Tokenizer version (default: the active one).")
@json_option
def encode(text: str, version: str | None, as_json: bool) -> None:
    """Print the token ids of TEXT; with `-`, of each line of standard input."""
    tok = load_active(version)
    texts = read_stdin_lines() if text == "-" else [text]
    encoded = tok.encode_batch(texts)
    for ids in encoded:
        if as_json:
            click.echo(json.dumps(ids))
        else:
            click.echo(" ".join(map(str, ids)))


def parse_ids(line: str, where: str) -> list[int]:
    parts = line.replace(",", " ").replace("[", " ").replace("]", " ").split()
    try:
        return [int(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not p.lstrip("-").isdigit())
        raise ValueError(f"{bad!r} is not a token id{where}") from None


@tokenizer.command("decode")
@click.argument("ids", nargs=-1, required=True)
@click.option("--version", "version", help="Tokenizer version (default: the active one).")
@json_option
def decode(ids: tuple[str, ...], version: str | None, as_json: bool) -> None:
    """Print the text of token IDS; with `-`, of each line of standard input.

    A bad line is reported on stderr and its output line left empty, so lines stay aligned.
    """
    tok = load_active(version)
    lines = read_stdin_lines() if ids == ("-",) else [" ".join(ids)]
    failed = 0
    for n, line in enumerate(lines, 1):
        where = f" (line {n})" if ids == ("-",) else ""
        try:
            text = tok.decode(parse_ids(line, where))
        except ValueError as exc:
            click.echo(f"delta: {exc}", err=True)
            failed += 1
            text = ""
        write_line(json.dumps(text) if as_json else text)
    if failed:
        sys.exit(1)


def _visible(text: str) -> str:
    # Control characters would move the cursor; show them as escapes instead.
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


COLOURS = ("on grey23", "on dark_blue", "on dark_green", "on dark_magenta", "on dark_cyan")
KIND_STYLES = {
    "operator": "bold yellow",
    "quote": "bold magenta",
    "escape": "magenta",
    "variable": "cyan",
    "flag": "green",
    "assign": "bright_cyan",
    "url": "underline blue",
    "path": "blue",
    "number": "bright_red",
    "word": "white",
    "space": "dim",
    "other": "bright_white",
}


def render_units(text: str):
    from rich.text import Text

    from delta_core.tokenizer.pretokenizer import units

    out = Text()
    for u in units(text):
        out.append(_visible(u.text), style=KIND_STYLES.get(u.kind, ""))
        out.append("│", style="dim")
    return out


@tokenizer.command("show")
@click.argument("text")
@click.option("--units", "show_units", is_flag=True, help="Also show the pre-tokenizer's units.")
@click.option("--version", "version", help="Tokenizer version (default: the active one).")
@json_option
def show(text: str, show_units: bool, version: str | None, as_json: bool) -> None:
    """Show how TEXT is cut into tokens, each token in its own colour."""
    from rich.text import Text

    from delta_core.tokenizer.pretokenizer import units
    from delta_core.tokenizer.versions import active_version

    ctx = load_context()
    out = console()
    if version is None and active_version(ctx.config.root) is None:
        if as_json:
            click.echo(
                json.dumps({"tokens": None, "units": [[u.text, u.kind] for u in units(text)]})
            )
            return
        out.print("no tokenizer trained yet (`delta tokenizer train`); the pre-tokenizer's units:")
        out.print(render_units(text), soft_wrap=True)
        return
    tok = load_active(version, ctx)
    groups = tok.spans(tok.encode(text))
    if as_json:
        click.echo(json.dumps({"version": tok.version, "tokens": [[i, t] for i, t in groups]}))
        return
    line = Text()
    for n, (ids, piece) in enumerate(groups):
        style = COLOURS[n % len(COLOURS)]
        if tok.is_byte(ids[0]):
            style = "bold red " + style
        line.append(_visible(piece), style=style)
    n_ids = sum(len(i) for i, _ in groups)
    out.print(line, soft_wrap=True)
    out.print(f"[dim]{n_ids} tokens, {len(text)} characters (tokenizer {tok.version})[/dim]")
    out.print("[dim]" + " ".join(str(i) for ids, _ in groups for i in ids) + "[/dim]")
    if show_units:
        out.print(render_units(text), soft_wrap=True)


@tokenizer.command("stats")
@click.option("--sample", default=50_000, show_default=True, help="Latest commands to measure.")
@click.option("--top", default=15, show_default=True, help="Most frequent tokens to list.")
@click.option("--version", "version", help="Tokenizer version (default: the active one).")
@json_option
def stats(sample: int, top: int, version: str | None, as_json: bool) -> None:
    """Vocabulary size, tokens per command, byte-fallback rate, most frequent tokens."""
    from delta_core.learn.dataset_build import history_commands
    from delta_core.learn.token_stats import tokenizer_stats

    ctx = load_context()
    tok = load_active(version, ctx)
    try:
        with progress_bars("commands read") as (advance,):
            commands, _ = history_commands(ctx, progress=advance)
    finally:
        ctx.close()
    result = tokenizer_stats(tok, commands[-sample:] if sample > 0 else commands, top=top)
    if as_json:
        click.echo(json.dumps(result))
        return
    from rich.table import Table

    tpc = result["tokens_per_command"]
    table = Table(title=f"tokenizer {tok.version}", show_header=False)
    rows = [
        ("vocabulary size", f"{result['vocab_size']} ({result['vocab_used']} used in the sample)"),
        ("commands measured", str(result["commands"])),
        (
            "tokens per command",
            f"mean {tpc['mean']:.1f}  p50 {tpc['p50']:.0f}  p90 {tpc['p90']:.0f}  "
            f"p99 {tpc['p99']:.0f}  max {tpc['max']}",
        ),
        ("byte-fallback rate", f"{result['byte_fallback_rate']:.3%}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    out = console()
    out.print(table)
    top_table = Table(title="most frequent tokens")
    for col in ("id", "token", "count", "share"):
        top_table.add_column(col)
    for t in result["top_tokens"]:
        top_table.add_row(str(t["id"]), repr(t["piece"]), str(t["count"]), f"{t['share']:.2%}")
    out.print(top_table)


@tokenizer.command("versions")
@json_option
def versions(as_json: bool) -> None:
    """List trained tokenizer versions; the active one is marked."""
    from delta_core.tokenizer.versions import active_version, list_versions

    ctx = load_context()
    active = active_version(ctx.config.root)
    infos = list_versions(ctx.config.root)
    if as_json:
        click.echo(json.dumps([{**i.config, "active": i.version == active} for i in infos]))
        return
    if not infos:
        click.echo("no tokenizer trained yet; run `delta tokenizer train`")
    for i in infos:
        mark = "*" if i.version == active else " "
        seen = i.config.get("trained_on", {}).get("commands", "?")
        click.echo(
            f"{mark} {i.version}  vocab {i.config.get('vocab_size')}  trained on {seen} commands"
        )


@tokenizer.command("use")
@click.argument("version")
def use(version: str) -> None:
    """Make VERSION the active tokenizer."""
    from delta_core.tokenizer.versions import set_active

    ctx = load_context()
    try:
        set_active(version, ctx.config.root)
    except ERRORS as exc:
        raise fail(exc) from None
    click.echo(f"tokenizer {version} is now active")
