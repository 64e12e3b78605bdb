"""The ``delta`` command line: ``delta memory …``, ``delta tokenizer …``, ``delta train`` and more.

Each group lives in its own module here; plugins add theirs through the
``delta_register_commands`` hook. Errors a user can fix are printed as one line (no
traceback) with a non-zero exit code; anything else is one plain line too, its traceback in
``delta.log``.
"""

from __future__ import annotations

import importlib
import sys

import click

from delta_core import __version__
from delta_core.config import ConfigError
from delta_core.paths import DiskFull

# module -> attribute: the command groups that ship with Delta
BUILTIN_COMMANDS: dict[str, str] = {
    "delta_core.cli.memory_explain": "memory",  # the memory group, with `explain` added
    "delta_core.cli.config_cmd": "config",
    "delta_core.cli.tokenizer_dataset": "tokenizer",  # the tokenizer group, with `dataset` added
    "delta_core.cli.train": "train",
    "delta_core.cli.model": "model",
    "delta_core.cli.search_cmd": "search",
    "delta_core.cli.eval_cmd": "eval_cmd",
    "delta_core.cli.feedback_cmd": "feedback_cmd",
    "delta_core.cli.knowledge_cmd": "knowledge",
    "delta_core.cli.serve_cmd": "serve",
    "delta_core.cli.suggest_cmd": "suggest_cmd",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="delta")
def cli() -> None:
    """Delta: a learning memory for the shell."""


def build_cli() -> click.Group:
    """The full command line: built-in groups plus those plugins register."""
    for module, attr in BUILTIN_COMMANDS.items():
        cmd = getattr(importlib.import_module(module), attr)
        if cmd.name not in cli.commands:
            cli.add_command(cmd)
    from delta_core.plugin.manager import make_plugin_manager

    make_plugin_manager().hook.delta_register_commands(cli=cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``delta`` console script."""
    try:
        group = build_cli()
        group.main(args=argv, prog_name="delta", standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"delta: {exc}", err=True)
        sys.exit(2)
    except DiskFull as exc:  # what was stored before is intact; nothing half-written
        click.echo(f"delta: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug or a fault nobody foresaw: one line here, details logged
        from delta_core import log
        from delta_core.paths import Layout

        log_file = Layout().log_file
        log.traceback_to_log(exc, log_file)
        click.echo(f"delta: {log.plain(exc)}; the details are in {log_file}", err=True)
        sys.exit(1)
