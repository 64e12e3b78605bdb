"""Records as columns: what the index needs of a batch, cheap to build, slice and pickle.

The index folds whole batches (an import brings millions of records), and counting over
columns runs at C speed (``Counter``, ``zip``) where a loop over record objects does not. The
parallel import sends columns from its parsing process, so they hold only plain values.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from delta_core.records.record import Record

K = TypeVar("K", bound=Hashable)


def positions_by_value(values: Sequence[K]) -> dict[K, list[int]]:
    """The positions of each distinct value, values in order of first appearance: how a
    batch is split into its days (the shards) and its streams (the index's sessions)."""
    rows: dict[K, list[int]] = {}
    for i, value in enumerate(values):
        got = rows.get(value)
        if got is None:
            rows[value] = [i]
        else:
            got.append(i)
    return rows


def stream_of(rec: Record) -> str:
    """The stream a record continues: its session, or one stream per host, user and shell.

    Imported plain histories carry no session id; their commands still follow each other.
    """
    return rec.session or f"h:{rec.host}|{rec.user}|{rec.shell}"


@dataclass(slots=True)
class Columns:
    """The index-relevant fields of a batch of records, one list per field, same order."""

    commands: list[str] = field(default_factory=list)
    cwds: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    exits: list[int | None] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    days: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @classmethod
    def from_records(cls, records: Sequence[Record], days: list[int] | None = None) -> Columns:
        """Columns of records that already have their ids (``days``: their day numbers,
        when the caller has them)."""
        sessions = [r.session for r in records]
        return cls(
            [r.command for r in records],
            [r.cwd for r in records],
            [r.start_ns for r in records],
            [r.exit for r in records],
            sessions,
            # stream_of, inlined
            [s or f"h:{r.host}|{r.user}|{r.shell}" for s, r in zip(sessions, records, strict=True)],
            [r.day_number for r in records] if days is None else days,
            [r.id for r in records],
        )

    @classmethod
    def of_one(cls, rec: Record) -> Columns:
        """Columns of a single record (the shell's prompt path: no list building)."""
        return cls(
            [rec.command],
            [rec.cwd],
            [rec.start_ns],
            [rec.exit],
            [rec.session],
            [stream_of(rec)],
            [rec.day_number],
            [rec.id],
        )

    def __len__(self) -> int:
        return len(self.commands)

    def _lists(self) -> tuple[list, ...]:
        return (
            self.commands,
            self.cwds,
            self.starts,
            self.exits,
            self.sessions,
            self.streams,
            self.days,
            self.ids,
        )

    def take(self, rows: Sequence[int]) -> Columns:
        """The columns of the given rows, in that order."""
        return Columns(*([col[i] for i in rows] for col in self._lists()))

    @classmethod
    def concat(cls, parts: Iterable[Columns]) -> Columns:
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        out = cls()
        for part in parts:
            for mine, theirs in zip(out._lists(), part._lists(), strict=True):
                mine.extend(theirs)
        return out
