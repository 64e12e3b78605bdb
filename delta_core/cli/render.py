"""Terminal rendering shared by the ``delta`` commands: tables, bar charts, progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

console = Console()
err_console = Console(stderr=True)


def bar(value: int, peak: int, width: int = 30) -> str:
    """A horizontal bar of block characters, ``value`` relative to ``peak``."""
    if peak <= 0:
        return ""
    cells = value / peak * width
    full = int(cells)
    partial = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)]
    return ("█" * full + (partial if full < width else "")).rstrip()


def format_time(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / 1e9))


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a terminal."""
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,} records")]
    columns.append(TimeElapsedColumn())
    quiet = not err_console.is_terminal
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as p:
        task = p.add_task(description, total=total)
        yield lambda n=1: p.advance(task, n)
