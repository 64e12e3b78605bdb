"""``delta knowledge``: what your history says about your projects, habits and typos."""

from __future__ import annotations

import dataclasses
import json

import click

from delta_core.cli.common import json_option, load_context, parse_time

since_option = click.option("--since", help="Only history since a time: 2026-01-31, 30d, 12h.")


def _records(since):
    ctx = load_context()
    return list(ctx.store.iter_records(since_ns=parse_time(since)))


def _emit(items, as_json: bool, title: str, columns, row) -> None:
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in items]))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not items:
        click.echo(f"no {title} found yet")
        return
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for i in items:
        table.add_row(*(escape(str(v)) for v in row(i)))
    Console().print(table)


@click.group("knowledge")
def knowledge() -> None:
    """Knowledge mined from your history: profiles, workflows, aliases, fixes."""


@knowledge.command("profiles")
@click.option("--top", type=click.IntRange(1, 100), default=5, show_default=True)
@since_option
@json_option
def profiles_cmd(top, since, as_json) -> None:
    """The commands each git repository (or directory) uses most."""
    from delta_core.learn.knowledge import profiles

    items = profiles(_records(since), top=top)
    _emit(
        items,
        as_json,
        "project profiles",
        ("project", "records", "top commands"),
        lambda p: (p.project, p.records, "\n".join(f"{n:>5}  {c}" for c, n in p.top)),
    )


@knowledge.command("workflows")
@click.option("--min-support", type=click.IntRange(2), default=3, show_default=True)
@since_option
@json_option
def workflows_cmd(min_support, since, as_json) -> None:
    """Sequences of 2-5 commands you run again and again, with their support (sessions)."""
    from delta_core.learn.knowledge import sessions, workflows

    groups = [[r.command for r in s] for s in sessions(_records(since))]
    items = workflows(groups, min_support=min_support)
    _emit(
        items,
        as_json,
        "workflows",
        ("support", "count", "commands"),
        lambda w: (w.support, w.count, " → ".join(w.commands)),
    )


@knowledge.command("aliases")
@click.option("--min-count", type=click.IntRange(2), default=5, show_default=True)
@since_option
@json_option
def aliases_cmd(min_count, since, as_json) -> None:
    """Long commands you type often: candidates for an alias."""
    from delta_core.learn.knowledge import alias_hints

    items = alias_hints(_records(since), min_count=min_count)
    _emit(
        items,
        as_json,
        "alias hints",
        ("alias", "count", "keystrokes saved", "command"),
        lambda h: (h.alias, h.count, h.saved_keystrokes, h.command),
    )


@knowledge.command("fixes")
@since_option
@json_option
def fixes_cmd(since, as_json) -> None:
    """Failing commands and the corrected form you ran right after them."""
    from delta_core.learn.knowledge import fixes, sessions

    items = fixes(sessions(_records(since)))
    _emit(
        items,
        as_json,
        "fixes",
        ("count", "failed", "fixed"),
        lambda f: (f.count, f.failed, f.fixed),
    )
