"""``delta memory explain 'CMD'``: which privacy filter fires on a command, and why."""

from __future__ import annotations

import json
import os

import click

from delta_core.cli.common import json_option, load_context
from delta_core.cli.memory import memory
from delta_core.cli.render import console
from delta_core.memory.privacy import apply_filters
from delta_core.memory.privacy import explain as explain_chain


@memory.command()
@click.argument("command")
@click.option("--cwd", default=None, help="Directory the command would run in (default: here).")
@json_option
def explain(command: str, cwd: str | None, as_json: bool) -> None:
    """Show what each privacy filter does to COMMAND and what would be stored."""
    ctx = load_context()
    cwd = cwd if cwd is not None else os.getcwd()
    filters = ctx.filters
    steps = explain_chain(filters, command, cwd)
    final = apply_filters(filters, command, cwd)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "stored": None if final.action == "drop" else final.command,
                    "action": final.action,
                    "filters": [
                        {
                            "filter": s.filter,
                            "action": s.action,
                            "findings": [
                                {"rule": f.rule, "start": f.start, "end": f.end, "detail": f.detail}
                                for f in s.findings
                            ],
                        }
                        for s in steps
                    ],
                }
            )
        )
        return
    colour = {"keep": "green", "redact": "yellow", "drop": "red", "error": "red"}
    for s in steps:
        console.print(
            f"[{colour.get(s.action, 'white')}]{s.action:<6}[/] {s.filter}", highlight=False
        )
        for f in s.findings:
            console.print(f"       {f.rule}: {f.detail}", highlight=False, markup=False)
    if final.action == "drop":
        console.print("[red]not stored[/]")
    else:
        console.print("stored as: ", end="")
        console.print(final.command, highlight=False, markup=False)
