"""Hook specifications: the seams where plugins extend Delta.

Every hook is called on the plugin manager built by
:func:`delta_core.plugin.manager.make_plugin_manager`. A plugin is a module or object with
functions of the same names, decorated with :data:`hookimpl`::

    from delta_core.plugin.hookspecs import hookimpl

    @hookimpl
    def delta_register_privacy_filters(register):
        register(MyFilter())

and made known to Delta through an entry point in the group ``delta`` of its distribution.

The ``register`` hooks add named components; none of them is ``firstresult``, so every plugin
is asked (a filter chain must never stop at the first plugin that returns ``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from delta_core.plugin.protocols import (
        Collector,
        Embedder,
        Importer,
        PrivacyFilter,
        Suggester,
        Tokenizer,
        Trainer,
    )

PROJECT = "delta"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def delta_register_collectors(register: Callable[[Collector], None]) -> None:
    """Register collectors: components that add context fields to each record.

    Called once, when the registry of components is first built. Call ``register`` with each
    :class:`~delta_core.plugin.protocols.Collector`; its ``collect(cwd, env)`` then runs as every
    command starts, on the prompt path, and must not spawn processes or block.
    A user switches one off by name with ``collectors.disabled`` in ``config.toml``.
    """


@hookspec
def delta_register_importers(register: Callable[[Importer], None]) -> None:
    """Register importers: readers of another shell's history file.

    Called when ``delta memory import --from NAME`` needs the importer called ``NAME``.
    Each :class:`~delta_core.plugin.protocols.Importer` yields records in the order they ran and
    reports unreadable lines as :class:`~delta_core.plugin.protocols.ImportProblem` values instead
    of raising. Privacy filters are applied to what it yields before anything is stored.
    """


@hookspec
def delta_register_privacy_filters(register: Callable[[PrivacyFilter], None]) -> None:
    """Register privacy filters: the chain every command passes before it is stored.

    Filters run in registration order on the live prompt path, on import, on
    ``delta memory prune --filters`` and again when training data is extracted. Each returns a
    :class:`~delta_core.plugin.protocols.Verdict` (keep, redact or drop); a redaction is passed on
    to the next filter, a drop ends the chain. A user switches one off by name with
    ``filters.disabled``.
    """


@hookspec
def delta_register_tokenizers(register: Callable[[Tokenizer], None]) -> None:
    """Register tokenizers that turn commands into model token ids and back.

    Called when a tokenizer is trained or loaded; ``tokenizer.name`` in ``config.toml``
    chooses one (``sentencepiece`` by default). A tokenizer must be lossless:
    ``decode(encode(x)) == x`` for every string.
    """


@hookspec
def delta_register_trainers(register: Callable[[Trainer], None]) -> None:
    """Register trainers: places the training loop can run (a container, the host, a cluster).

    ``delta-train --trainer NAME`` (or ``train.trainer`` in ``config.toml``) picks one; the
    default is ``docker``. A trainer's ``available()`` says in one line why it cannot run, so
    ``delta-train`` can offer another.
    """


@hookspec
def delta_register_suggesters(register: Callable[[Suggester], None]) -> None:
    """Register suggesters: sources of candidate commands for the prompt.

    The suggest engine asks every enabled suggester for candidates for what has been typed and
    merges them by score. Suggesters run on the keystroke path and must answer within the
    budget in DESIGN.md or be skipped.
    """


@hookspec
def delta_register_embedders(register: Callable[[Embedder], None]) -> None:
    """Register embedders: models that map commands to vectors for search by meaning.

    ``search.embedder`` in ``config.toml`` picks one. Changing it rebuilds the vector index.
    """


@hookspec
def delta_register_commands(cli: click.Group) -> None:
    """Add commands to the ``delta`` command line.

    Called once while the CLI is being built, with the top-level ``click`` group; add commands
    or groups to it with ``cli.add_command(...)``. Use names that do not clash with Delta's
    own (``memory``, ``tokenizer``, ``train``, ``model``, …).
    """
