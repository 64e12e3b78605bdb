"""The record: one command a person ran, with its context.

A record is what every part of Delta exchanges: collectors add to ``extra``, privacy filters
rewrite ``command``, the store encodes it, importers and exporters convert it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

from delta_core.records.identity import identity


def local_utc_offset_minutes(ts_ns: int | None = None) -> int:
    """The local time zone's UTC offset, in minutes, at ``ts_ns`` (now by default)."""
    secs = (time.time_ns() if ts_ns is None else ts_ns) / 1e9
    off = datetime.fromtimestamp(secs).astimezone().utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0


@dataclass(slots=True)
class Record:
    """One command, as run.

    ``start_ns`` is nanoseconds since the Unix epoch (UTC) and ``utc_offset`` the local
    offset in minutes when it ran, so a record keeps the wall-clock time the user saw.
    ``exit`` and ``duration`` are ``None`` when unknown (an imported plain history).
    """

    command: str
    start_ns: int
    cwd: str = ""
    exit: int | None = None
    duration: float | None = None
    session: str = ""
    host: str = ""
    user: str = ""
    shell: str = ""
    utc_offset: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    id: str = ""

    def ensure_id(self) -> str:
        """Give the record its identity, computed after privacy filters ran (never from a secret)."""
        if not self.id:
            self.id = record_id(self)
        return self.id

    @property
    def day_number(self) -> int:
        """Days since the epoch in the user's zone: cheaper to compare than ``local_day``."""
        return (self.start_ns // 1_000_000_000 + self.utc_offset * 60) // 86400

    @property
    def timestamp(self) -> datetime:
        """The start time as an aware datetime in the zone it ran in."""
        tz = timezone(timedelta(minutes=self.utc_offset))
        return datetime.fromtimestamp(self.start_ns / 1e9, tz=UTC).astimezone(tz)

    @property
    def local_day(self) -> str:
        """The day (YYYY-MM-DD) the command ran, in the user's zone: its shard."""
        return day_name(self.day_number)

    def succeeded(self) -> bool | None:
        return None if self.exit is None else self.exit == 0

    def with_command(self, command: str) -> Record:
        """A copy with another command (a redaction), keeping an identity already given."""
        return replace(self, command=command)


_DAY_NAMES: dict[int, str] = {}


def day_name(day_number: int) -> str:
    """``YYYY-MM-DD`` of a day number (days since the epoch, in the user's zone)."""
    name = _DAY_NAMES.get(day_number)
    if name is None:
        name = _DAY_NAMES[day_number] = time.strftime("%Y-%m-%d", time.gmtime(day_number * 86400))
    return name


def record_id(rec: Record) -> str:
    """A stable identity: the same command at the same moment in the same session is one record.

    Importing a history twice therefore adds nothing.
    """
    return identity(rec)
