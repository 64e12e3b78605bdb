"""``delta config``: show the settings in force and where they come from."""

from __future__ import annotations

import json

import click

from delta_core.cli.common import json_option, load_context
from delta_core.config import SETTINGS, env_name


@click.command("config")
@json_option
def config(as_json: bool) -> None:
    """Show every setting, its value, and the environment variable that overrides it."""
    ctx = load_context()
    rows = [
        {"key": k, "value": v, "env": env_name(k), "help": SETTINGS[k].help}
        for k, v in ctx.config.items()
    ]
    if as_json:
        click.echo(json.dumps({"root": str(ctx.config.root), "settings": rows}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Delta settings ({ctx.layout.config_file})")
    # The names are the point of this table: never cut; the rest wraps (long words fold).
    table.add_column("setting", no_wrap=True, min_width=max(len(r["key"]) for r in rows))
    table.add_column("value", overflow="fold")
    table.add_column("environment", overflow="fold")
    table.add_column("meaning", overflow="fold")
    for r in rows:
        table.add_row(r["key"], repr(r["value"]), r["env"], r["help"])
    Console().print(table)
