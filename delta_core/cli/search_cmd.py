"""``delta search``: find past commands by meaning, words or fragments, with their context."""

from __future__ import annotations

import json
import os
import sys
import time

import click

from delta_core.cli.common import json_option, load_context, parse_time


def _when(ns: int) -> str:
    age = time.time() - ns / 1e9
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60)):
        if age >= secs:
            return f"{int(age // secs)}{unit} ago"
    return "just now"


@click.command("search")
@click.argument("query", nargs=-1)
@click.option(
    "--cwd",
    "cwd",
    is_flag=False,
    flag_value=".",
    default=None,
    metavar="[DIR]",
    help="Only commands run in DIR (no value: the current directory).",
)
@click.option("--since", help="Only commands since a time: 2026-01-31, 3d, 12h, 30m.")
@click.option("--exit", "exit_code", type=int, help="Only commands that exited with this status.")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option(
    "--around",
    type=click.IntRange(0, 10),
    default=1,
    show_default=True,
    help="Commands shown before and after each hit (same session).",
)
@click.option("--sync", "sync_only", is_flag=True, help="Only bring the search index up to date.")
@click.option("--rebuild", is_flag=True, help="Rebuild the search index from the shards.")
@click.option("--no-sync", is_flag=True, help="Answer from the index as it is (no catch-up).")
@click.option("--interactive", "-i", is_flag=True, help="Open the interactive search.")
@json_option
def search(
    query, cwd, since, exit_code, limit, around, sync_only, rebuild, no_sync, interactive, as_json
) -> None:
    """Find past commands: `delta search "rebuild the docker image"`."""
    from delta_core.search.service import SearchError, get_embedder, open_searcher

    ctx = load_context()
    text = " ".join(query)
    where = os.path.abspath(cwd) if cwd else None
    try:
        since_ns = parse_time(since)
        hits = None
        if not (interactive or sync_only or rebuild):
            hits = _from_server(ctx, text, where, since_ns, exit_code, limit, sync=not no_sync)
        if hits is not None:
            _show(ctx, text, hits, around, as_json)
            return
        embedder = get_embedder(ctx)
        if not no_sync or rebuild or sync_only:
            from delta_core.search.state import search_dir

            # A saved index answers at once while another process holds it (the background
            # upgrade saves every few seconds); only a first build or a rebuild waits.
            indexed = (search_dir(ctx.layout.root, embedder.name) / "current").exists()
            wait = not sync_only and (rebuild or not indexed)
            report = _refresh(ctx, embedder, rebuild, wait=wait, quiet=as_json)
            if sync_only:
                if report is not None and report.pending:
                    from delta_core.search.service import upgrade_all

                    report.upgraded += upgrade_all(ctx, embedder)
                    report.pending = 0
                if as_json:
                    click.echo(json.dumps(report.__dict__ if report else {"busy": True}))
                elif report is not None:
                    click.echo(
                        f"search index: +{report.records_added} records, "
                        f"-{report.records_removed}, {report.embedded} commands embedded, "
                        f"{report.upgraded} upgraded to the full model"
                    )
                return
            from delta_core.search.service import upgrade_in_background

            if upgrade_in_background(ctx, report) and not as_json and report is not None:
                click.echo(
                    f"{report.pending:,} commands are searchable with quick vectors; the full "
                    "model upgrades them in the background",
                    err=True,
                )
        if interactive:
            from delta_core.search.ui import run_standalone

            chosen = run_standalone(ctx, embedder, initial=text)
            if chosen:
                click.echo(chosen)
            return
        searcher = open_searcher(ctx, embedder)
        hits = searcher.search(
            text,
            cwd=where,
            since_ns=since_ns,
            exit=exit_code,
            limit=limit,
            here=os.getcwd(),
        )
    except SearchError as exc:
        raise click.ClickException(str(exc)) from None
    _show(ctx, text, hits, around, as_json)


def _from_server(ctx, text, where, since_ns, exit_code, limit, *, sync: bool):
    """The hits from a running ``delta serve`` (model and index warm), or None."""
    from delta_core.serve.search_side import hit_from_json, remote_search

    rows = remote_search(
        ctx.layout,
        {
            "query": text,
            "limit": limit,
            "sync": sync,
            "cwd": where,
            "since_ns": since_ns,
            "exit": exit_code,
            "here": os.getcwd(),
        },
    )
    if rows is None:
        return None
    try:
        return [hit_from_json(r) for r in rows]
    except (KeyError, TypeError, ValueError):
        return None  # an answer of another version: search here instead


def _show(ctx, text, hits, around, as_json) -> None:
    from delta_core.search.service import neighbours

    rows = []
    for h in hits:
        before, after = neighbours(ctx.store, h, around) if around else ([], [])
        row = h.as_json()
        row["before"] = [r.command for r in before]
        row["after"] = [r.command for r in after]
        rows.append(row)
    if as_json:
        click.echo(json.dumps({"query": text, "hits": rows}))
        return
    _print_table(text, rows)


def _refresh(ctx, embedder, rebuild, *, wait, quiet):
    from rich.console import Console
    from rich.progress import Progress

    from delta_core.search.service import refresh

    console = Console(stderr=True)
    if quiet or not sys.stderr.isatty():
        return refresh(ctx, embedder, rebuild=rebuild, wait=wait)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("indexing new commands", total=None)
        return refresh(
            ctx,
            embedder,
            rebuild=rebuild,
            wait=wait,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )


def _print_table(text: str, rows: list[dict]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"nothing found for {text!r}")
        return
    table = Table(title=f"delta search {text!r}")
    for col in ("when", "dir", "exit", "command"):
        table.add_column(col)
    for r in rows:
        shown = "\n".join(
            [
                *(f"[dim]  {escape(c)}[/dim]" for c in r["before"]),
                f"[bold]{escape(r['command'])}[/bold]",
                *(f"[dim]  {escape(c)}[/dim]" for c in r["after"]),
            ]
        )
        table.add_row(
            _when(int(r["time"] * 1e9)),
            r["cwd"],
            "" if r["exit"] is None else str(r["exit"]),
            shown,
        )
    console.print(table)
