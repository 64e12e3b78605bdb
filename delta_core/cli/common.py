"""What every ``delta`` command shares: loading the context, ``--json``, one-line errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from delta_core.config import ConfigError
from delta_core.context import DeltaContext

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


# Set by an in-process caller (the xontrib's `delta` alias) that already holds the memory
# open: LMDB forbids opening the same environment twice in one process.
_shared: DeltaContext | None = None


@contextmanager
def shared_context(ctx: DeltaContext | None) -> Iterator[None]:
    """Make :func:`load_context` return ``ctx`` (when not None) for the duration."""
    global _shared
    saved, _shared = _shared, ctx
    try:
        yield
    finally:
        _shared = saved


def load_context() -> DeltaContext:
    """The context for the current environment; a bad config becomes a one-line error."""
    if _shared is not None:
        return _shared
    try:
        return DeltaContext()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def parse_time(text: str | None) -> int | None:
    """Nanoseconds from a user-typed time: ISO date/time, or relative (``3d``, ``12h``, ``30m``)."""
    if text is None:
        return None
    t = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if t and t[-1] in units and t[:-1].isdigit():
        return int((time.time() - int(t[:-1]) * units[t[-1]]) * 1e9)
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time; use 2026-01-31, 2026-01-31T14:00 or 3d/12h/30m"
        ) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return int(dt.timestamp() * 1e9)
