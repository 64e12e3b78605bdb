"""Delta's export format: JSON Lines, one object per record. A stable, documented contract.

Keys: ``id``, ``command``, ``cwd``, ``exit`` (int or null), ``duration`` (seconds, float or
null), ``timestamp`` (ISO 8601 with offset), ``session``, ``host``, ``user``, ``shell`` and
``extra`` (object of collector fields, string values). On import only ``command`` is required;
a missing timestamp is given at import time (see :mod:`delta_core.imports.pipeline`).
"""

from __future__ import annotations

import json
import json.scanner
import os
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from delta_core.plugin.protocols import ImportProblem
from delta_core.records.checks import record_problem
from delta_core.records.record import Record

FIELDS = (
    "id",
    "command",
    "cwd",
    "exit",
    "duration",
    "timestamp",
    "session",
    "host",
    "user",
    "shell",
    "extra",
)


def to_json(rec: Record) -> dict[str, Any]:
    """The export object of a record."""
    return {
        "id": rec.ensure_id(),
        "command": rec.command,
        "cwd": rec.cwd,
        "exit": rec.exit,
        "duration": rec.duration,
        "timestamp": rec.timestamp.isoformat(timespec="microseconds"),
        "session": rec.session,
        "host": rec.host,
        "user": rec.user,
        "shell": rec.shell,
        "extra": rec.extra,
    }


def dumps(rec: Record) -> str:
    return json.dumps(to_json(rec), ensure_ascii=False)


class RecordError(ValueError):
    """An import object is not a valid record; the message names the field."""


def _str(obj: dict, key: str) -> str:
    v = obj.get(key)
    if v is None:
        return ""
    if v.__class__ is not str and not isinstance(v, str):
        raise RecordError(f"{key!r} must be a string")
    return v


def _time(ts: Any) -> tuple[int, int]:
    """``(start_ns, utc offset in minutes)`` of an ISO 8601 timestamp."""
    if not isinstance(ts, str):
        raise RecordError("'timestamp' must be an ISO 8601 string")
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        raise RecordError(f"'timestamp' is not ISO 8601: {ts[:40]!r}") from None
    if not 1971 <= dt.year < 2200:
        raise RecordError(f"'timestamp' is out of range (1971 to 2200): {ts[:40]!r}")
    if dt.tzinfo is None:
        try:
            dt = dt.astimezone()
        except (OverflowError, OSError, ValueError):
            raise RecordError(f"'timestamp' is out of range: {ts[:40]!r}") from None
    off = dt.utcoffset()
    offset = int(off.total_seconds() // 60) if off is not None else 0
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000, offset


def from_json(obj: Any) -> Record:
    """A record from an import object (``start_ns`` 0 when it has no timestamp)."""
    if not isinstance(obj, dict):
        raise RecordError("a line must be a JSON object")
    cmd = obj.get("command")
    if not isinstance(cmd, str) or not cmd.strip():
        raise RecordError("'command' is missing or not a non-empty string")
    exit_ = obj.get("exit")
    if exit_ is not None:
        # bool is an int subclass: the class check is the fast path, isinstance the rule
        if exit_.__class__ is not int and (not isinstance(exit_, int) or isinstance(exit_, bool)):
            raise RecordError("'exit' must be an integer or null")
        if not -(2**31) <= exit_ < 2**31:
            raise RecordError("'exit' is out of range")
    dur = obj.get("duration")
    if dur is not None:
        if not isinstance(dur, int | float) or isinstance(dur, bool):
            raise RecordError("'duration' must be a number or null")
        dur = float(dur)
        if not 0.0 <= dur < float("inf"):
            raise RecordError(f"'duration' must be a finite number of seconds >= 0, got {dur!r}")
    ts = obj.get("timestamp")
    start_ns, offset = (0, 0) if ts is None else _time(ts)
    extra = obj.get("extra")
    if extra:
        if not isinstance(extra, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
        ):
            raise RecordError("'extra' must be an object of strings")
        extra = dict(extra)
    return Record(
        cmd,
        start_ns,
        _str(obj, "cwd"),
        exit_,
        dur,
        _str(obj, "session"),
        _str(obj, "host"),
        _str(obj, "user"),
        _str(obj, "shell"),
        offset,
        extra or {},
    )


# The C scanner json.loads runs underneath, without its Python layers (0.6 vs 1.6 µs a line).
_scan = json.scanner.make_scanner(json.JSONDecoder())


def _loads(text: str) -> Any:
    """One JSON value that fills the line; json.loads words any error."""
    try:
        obj, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)  # leading space, or a real error: let json word it
    if end != len(text) and text[end:].strip():
        return json.loads(text)  # raises "Extra data"
    return obj


def read_jsonl(stream: IO[bytes]) -> Iterator[Record | ImportProblem]:
    """Parse a JSON Lines byte stream; each bad line becomes a problem with its number."""
    for n, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield ImportProblem(n, f"not UTF-8 (byte {exc.start})")
            continue
        try:
            obj = _loads(text)
        except json.JSONDecodeError as exc:
            yield ImportProblem(n, f"not JSON ({exc.msg})")
            continue
        try:
            rec = from_json(obj)
        except RecordError as exc:
            yield ImportProblem(n, str(exc))
            continue
        # only a \u escape can put a surrogate into text decoded from UTF-8
        why = record_problem(rec, texts="\\u" in text)
        if why:
            yield ImportProblem(n, f"{why}; skipped")
            continue
        yield rec


def read_jsonl_file(path: Path) -> Iterator[Record | ImportProblem]:
    problem = not_a_history_file(path)
    if problem is not None:
        yield problem
        return
    with open(path, "rb") as f:
        yield from read_jsonl(f)


def not_a_history_file(path: Path, *, dir_ok: bool = False) -> ImportProblem | None:
    """A problem (line 0) when ``path`` is not a regular file that can be read: a directory
    (unless ``dir_ok``), a FIFO (reading it would wait forever), a device (``/dev/zero`` never
    ends), a socket, or missing."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return ImportProblem(0, f"cannot read {path}: {exc.strerror or exc}")
    if stat.S_ISREG(st.st_mode) or (dir_ok and stat.S_ISDIR(st.st_mode)):
        return None
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((k for test, k in kinds if test(st.st_mode)), "not a regular file")
    return ImportProblem(0, f"{path} is {kind}, not a history file")
