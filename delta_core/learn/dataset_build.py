"""From the memory to a tokenizer and a dataset: what ``delta tokenizer train`` and
``delta tokenizer dataset build`` do, as functions a trainer or a test can call.

Both read the store through :func:`delta_core.learn.extraction.extract_sessions`, so the privacy
filters run again on every command before it can shape a vocabulary or enter a dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delta_core.learn.datasets import DatasetError, write_dataset
from delta_core.learn.extraction import ExtractionReport, Session, extract_sessions, split_by_time
from delta_core.tokenizer.versions import (
    TokenizerError,
    TokenizerInfo,
    load_tokenizer,
    train_tokenizer,
)

if TYPE_CHECKING:
    from delta_core.context import DeltaContext
    from delta_core.tokenizer.shell import ShellTokenizer

Progress = Callable[[int], None]


def history_sessions(
    ctx: DeltaContext,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    collapse_duplicates: bool = True,
    progress: Progress | None = None,
) -> tuple[list[Session], ExtractionReport]:
    """The filtered sessions of the memory between ``since_ns`` and ``until_ns``."""
    return extract_sessions(
        ctx.store.iter_records(since_ns, until_ns),
        ctx.filters,
        collapse_duplicates=collapse_duplicates,
        progress=progress,
    )


def history_commands(
    ctx: DeltaContext,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    progress: Progress | None = None,
) -> tuple[list[str], ExtractionReport]:
    """Every command of the memory that passes the filters (repeats kept: they are usage)."""
    sessions, report = history_sessions(
        ctx, since_ns=since_ns, until_ns=until_ns, collapse_duplicates=False, progress=progress
    )
    return [r.command for s in sessions for r in s.records], report


def train_on_history(
    ctx: DeltaContext,
    *,
    vocab_size: int | None = None,
    since_ns: int | None = None,
    activate: bool = True,
    progress: Progress | None = None,
) -> tuple[TokenizerInfo, ExtractionReport]:
    """Train the configured tokenizer plugin on the filtered history and store the version."""
    name = ctx.config["tokenizer.name"]
    plugin = ctx.components.tokenizers.get(name)
    if plugin is None:
        known = ", ".join(ctx.components.tokenizers) or "none"
        raise TokenizerError(f"no tokenizer plugin {name!r} (installed: {known})")
    commands, report = history_commands(ctx, since_ns=since_ns, progress=progress)
    if not commands:
        raise TokenizerError("the memory holds no commands to train on yet")
    vocab = int(vocab_size or ctx.config["tokenizer.vocab_size"])
    info = train_tokenizer(
        commands,
        plugin,
        root=ctx.config.root,
        vocab_size=vocab,
        activate=activate,
        trained_on={"commands": len(commands), "since_ns": since_ns, **report.as_dict()},
    )
    return info, report


def dataset_dir(ctx: DeltaContext, name: str) -> Path:
    """Where the dataset ``name`` lives (``datasets/<name>``); names are plain words."""
    if not name or "/" in name or name.startswith("."):
        raise DatasetError(f"{name!r} is not a dataset name; use letters, digits, - and _")
    return ctx.layout.datasets / name


def build_dataset(
    ctx: DeltaContext,
    name: str = "default",
    *,
    tok: ShellTokenizer | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    val_fraction: float = 0.1,
    collapse_duplicates: bool = True,
    replace: bool = False,
    read_progress: Progress | None = None,
    write_progress: Progress | None = None,
) -> dict[str, Any]:
    """Extract the memory into ``datasets/<name>`` with ``tok`` (the active tokenizer).

    Returns the dataset's ``meta``. Raises :class:`DatasetError` or :class:`TokenizerError`
    (one line) when the history is empty or the dataset was made by another tokenizer.
    """
    directory = dataset_dir(ctx, name)
    tok = tok or load_tokenizer(context=ctx)
    sessions, report = history_sessions(
        ctx,
        since_ns=since_ns,
        until_ns=until_ns,
        collapse_duplicates=collapse_duplicates,
        progress=read_progress,
    )
    if not report.kept:
        raise DatasetError("no commands to build a dataset from (the memory is empty or filtered)")
    train, val, split_ns = split_by_time(sessions, val_fraction)
    return write_dataset(
        directory,
        tok,
        train,
        val,
        replace=replace,
        split_time_ns=split_ns,
        extra_meta={
            "source": {"kind": "history", "since_ns": since_ns, "until_ns": until_ns},
            "extraction": report.as_dict(),
            "val_fraction": val_fraction,
            "collapse_duplicates": collapse_duplicates,
        },
        progress=write_progress,
    )
