"""Extraction: the memory's records turned into sessions a model can learn from.

Records are read in time order from the store, passed through the privacy filters again
(a filter added after a command was stored still keeps it out of training data), grouped
into sessions (``Record.session``; records without one are grouped by host, user and shell,
and cut where the user was away for an hour), and optionally stripped of consecutive
repeats. :func:`split_by_time` then cuts the sessions at one moment: everything before is
training data, everything after is validation, so validation measures predicting the future
from the past — as the model will be used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from delta_core.memory.privacy import apply_filters
from delta_core.plugin.protocols import PrivacyFilter
from delta_core.records.record import Record

#: Records without a session id start a new session after this long a pause.
SESSION_GAP_NS = 3600 * 1_000_000_000


@dataclass
class Session:
    """The commands of one shell session that survived the filters, oldest first."""

    key: str
    records: list[Record] = field(default_factory=list)

    @property
    def start_ns(self) -> int:
        return self.records[0].start_ns if self.records else 0


@dataclass
class ExtractionReport:
    """What extraction did with the records it read."""

    read: int = 0
    kept: int = 0
    dropped: int = 0
    redacted: int = 0
    collapsed: int = 0
    empty: int = 0
    sessions: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _session_key(rec: Record, last_seen: dict[str, int], counters: dict[str, int]) -> str:
    if rec.session:
        return "s:" + rec.session
    base = f"h:{rec.host}|{rec.user}|{rec.shell}"
    prev = last_seen.get(base)
    if prev is not None and rec.start_ns - prev > SESSION_GAP_NS:
        counters[base] = counters.get(base, 0) + 1
    last_seen[base] = rec.start_ns
    return f"{base}#{counters.get(base, 0)}"


def extract_sessions(
    records: Iterable[Record],
    filters: Sequence[PrivacyFilter],
    *,
    collapse_duplicates: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Session], ExtractionReport]:
    """Group time-ordered ``records`` into filtered sessions, ordered by their first command.

    A command a filter drops is left out; a redacted one is kept in its redacted form; an
    empty one is left out. With ``collapse_duplicates``, a command that repeats the one
    before it in the same session (same text and directory) is left out. ``progress`` is
    called with the number of records read since its last call.
    """
    report = ExtractionReport()
    sessions: dict[str, Session] = {}
    last_seen: dict[str, int] = {}
    counters: dict[str, int] = {}
    filters = list(filters)
    pending = 0
    for rec in records:
        report.read += 1
        pending += 1
        if progress is not None and pending >= 4096:
            progress(pending)
            pending = 0
        if not rec.command.strip():
            report.empty += 1
            continue
        verdict = apply_filters(filters, rec.command, rec.cwd)
        if verdict.action == "drop":
            report.dropped += 1
            continue
        if verdict.action == "redact":
            report.redacted += 1
            rec = rec.with_command(verdict.command)
        key = _session_key(rec, last_seen, counters)
        session = sessions.get(key)
        if session is None:
            session = sessions[key] = Session(key)
        if collapse_duplicates and session.records:
            prev = session.records[-1]
            if prev.command == rec.command and prev.cwd == rec.cwd:
                report.collapsed += 1
                continue
        session.records.append(rec)
        report.kept += 1
    if progress is not None and pending:
        progress(pending)
    out = sorted(sessions.values(), key=lambda s: (s.start_ns, s.key))
    report.sessions = len(out)
    return out, report


def split_by_time(
    sessions: Sequence[Session], val_fraction: float = 0.1
) -> tuple[list[Session], list[Session], int]:
    """Cut sessions at one moment so that about ``val_fraction`` of the commands come after.

    Returns ``(train, validation, split_time_ns)``: every command before ``split_time_ns``
    is in ``train``, every command at or after it in ``validation``. A session that spans
    the moment is cut in two. With one command or none, everything is training data.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"the validation fraction must be in [0, 1), got {val_fraction}")
    times = sorted(r.start_ns for s in sessions for r in s.records)
    n_val = round(len(times) * val_fraction)
    if not times or n_val == 0:
        split = (times[-1] + 1) if times else 0
        return list(sessions), [], split
    split = times[len(times) - n_val]
    train: list[Session] = []
    val: list[Session] = []
    for s in sessions:
        before = [r for r in s.records if r.start_ns < split]
        after = [r for r in s.records if r.start_ns >= split]
        if before:
            train.append(Session(s.key, before))
        if after:
            val.append(Session(s.key, after))
    val.sort(key=lambda s: (s.start_ns, s.key))
    return train, val, split
