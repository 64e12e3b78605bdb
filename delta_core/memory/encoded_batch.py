"""A batch of records encoded for the store, grouped by the day shard each one belongs to.

Encoding is the costly half of storing; it needs nothing from the store, so a parallel import
does it in its parsing process and sends the result (plain bytes and columns) over a pipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from delta_core.records import codec
from delta_core.records.columns import Columns, positions_by_value
from delta_core.records.record import Record


@dataclass(slots=True)
class DayBatch:
    """One day's records: their keys and values for the shard, their columns for the index.

    ``origins`` (aligned with the rows, ``None`` where a record has none) are the import
    origins of records that came without a time: one seen before means "already here".
    """

    keys: list[bytes]
    values: list[bytes]
    cols: Columns
    origins: list[bytes | None] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: Sequence[int]) -> DayBatch:
        """Only the given rows, in that order."""
        return DayBatch(
            [self.keys[i] for i in rows],
            [self.values[i] for i in rows],
            self.cols.take(rows),
            None if self.origins is None else [self.origins[i] for i in rows],
        )


EncodedBatch = dict[int, DayBatch]
"""Day number -> that day's encoded records."""


def encode_batch(
    records: Sequence[Record], origins: Sequence[bytes | None] | None = None
) -> EncodedBatch:
    """Encode records (giving each its id) and group them by local day.

    ``origins``, when given, is aligned with ``records``: each one's import origin or None.
    """
    if len(records) == 1:  # one command from the shell
        rec = records[0]
        key, value = codec.encode_with_key(rec)
        found = [origins[0]] if origins else None
        return {rec.day_number: DayBatch([key], [value], Columns.of_one(rec), found)}
    keys, values = codec.encode_many(records)
    days = [(r.start_ns // 1_000_000_000 + r.utc_offset * 60) // 86400 for r in records]
    if not days:
        return {}
    first = days[0]
    if days.count(first) == len(days):  # all of one day: no grouping
        found = list(origins) if origins else None
        return {first: DayBatch(keys, values, Columns.from_records(records, days), found)}
    rows = positions_by_value(days)
    return {
        day: DayBatch(
            [keys[i] for i in r],
            [values[i] for i in r],
            Columns.from_records([records[i] for i in r], [day] * len(r)),
            None if not origins else [origins[i] for i in r],
        )
        for day, r in rows.items()
    }
