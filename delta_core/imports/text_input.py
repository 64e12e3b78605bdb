"""What every importer of another shell's history needs: bytes in, text lines and times out.

History files are read whole and split at the bytes level (one C-speed ``decode`` for the
common all-UTF-8 file) because a person's history is at most a few hundred megabytes and
per-line Python work is what limits import speed. Bad lines never raise: they come out as
:class:`~delta_core.plugin.protocols.ImportProblem` values so the caller can report and skip them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from delta_core.memory.jsonl import not_a_history_file
from delta_core.plugin.protocols import ImportProblem
from delta_core.records.record import Record, local_utc_offset_minutes

NS = 1_000_000_000
# Outside these bounds a "timestamp" is garbage: before 1971 or after 2200.
MIN_EPOCH_S = 31_536_000
MAX_EPOCH_S = 7_258_118_400


def read_bytes(path: Path) -> bytes | ImportProblem:
    """The whole file, or a problem (line 0) saying why it cannot be read (a FIFO or a
    device is refused before it is opened: one would wait forever, the other never end)."""
    problem = not_a_history_file(path)
    if problem is not None:
        return problem
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        return ImportProblem(0, f"{path} is a directory, not a history file")
    except OSError as exc:
        return ImportProblem(0, f"cannot read {path}: {exc.strerror or exc}")


def parse_file(
    path: Path, parse: Callable[[bytes], Iterator[Record | ImportProblem]]
) -> Iterator[Record | ImportProblem]:
    """``parse`` the file's bytes, or the one problem that kept it from being read."""
    data = read_bytes(path)
    if isinstance(data, ImportProblem):
        return iter((data,))
    return parse(data)


def split_lines(data: bytes) -> tuple[list[str] | list[bytes], bool]:
    """The lines of ``data`` (without their newlines) and whether they are all decoded text.

    When the whole file is UTF-8 (the usual case) the lines are ``str``; otherwise they stay
    ``bytes`` and the caller decodes each entry with :func:`decode_entry`, so only the bad
    ones are lost. A final line without its newline is kept here; see :func:`is_truncated`.
    """
    try:
        text = data.decode("utf-8")
        if "\x00" in text:
            raise ValueError("NUL bytes: decode line by line to report them")
    except ValueError:
        lines_b = data.split(b"\n")
        if lines_b and lines_b[-1] == b"":
            lines_b.pop()
        return lines_b, False
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, True


def is_truncated(data: bytes) -> bool:
    """Whether the file ends inside a line: shells always end what they write with a newline."""
    return bool(data) and not data.endswith(b"\n")


def truncated_problem(line: int) -> ImportProblem:
    return ImportProblem(
        line, "last line has no newline (file truncated or still being written); skipped"
    )


def decode_entry(raw: str | bytes, line: int) -> str | ImportProblem:
    """An entry as text, or a problem naming the line where it starts.

    NUL bytes never occur in a command a shell ran (C strings cannot hold them), so a line
    with one is binary garbage even when it happens to decode.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ImportProblem(line, f"not UTF-8 (byte {exc.start} of the entry); skipped")
    if "\x00" in raw:
        return ImportProblem(line, "contains NUL bytes (binary data); skipped")
    return raw


def epoch_ns(seconds: float | int | str) -> int | None:
    """Nanoseconds for a Unix time in seconds, or ``None`` when it is not a plausible time."""
    if type(seconds) is int:  # the common case (bash, zsh, fish), kept exact and cheap
        return seconds * NS if MIN_EPOCH_S <= seconds <= MAX_EPOCH_S else None
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return None
    if not MIN_EPOCH_S <= s <= MAX_EPOCH_S:
        return None
    # microsecond precision: what a float of today's epoch seconds still holds exactly
    return round(s * 1_000_000) * 1000


class LocalOffsets:
    """The local UTC offset (minutes) at a given time, looked up once per day of history.

    A day whose start and end have the same offset has no zone transition (no zone changes
    its offset twice within a day and back), so one value serves all of it; a day with a
    transition is looked up per quarter hour, since transitions fall on quarter hours.
    """

    _DAY = 86_400 * NS
    _SLOT = 900 * NS

    def __init__(self) -> None:
        self._days: dict[int, int | None] = {}  # day -> its offset, None: it has a transition
        self._slots: dict[int, int] = {}
        self._last = (-1, 0)  # histories are in time order: usually the same day again

    def __call__(self, ns: int) -> int:
        day = ns // self._DAY
        if day == self._last[0]:
            return self._last[1]
        if day not in self._days:
            start = local_utc_offset_minutes(day * self._DAY)
            end = local_utc_offset_minutes((day + 1) * self._DAY - 1)
            self._days[day] = start if start == end else None
        off = self._days[day]
        if off is not None:
            self._last = (day, off)
            return off
        slot = ns // self._SLOT
        off = self._slots.get(slot)
        if off is None:
            off = self._slots[slot] = local_utc_offset_minutes(slot * self._SLOT)
        return off


def env_path(env: Mapping[str, str], name: str) -> Path | None:
    """``$name`` as a path (``~`` expanded), or ``None`` when unset or empty."""
    value = env.get(name)
    return Path(os.path.expanduser(value)) if value else None


def xdg_data_home(home: Path, env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME``, else ``~/.local/share`` (the XDG default)."""
    return env_path(env, "XDG_DATA_HOME") or home / ".local" / "share"


def xonsh_data_dir(home: Path, env: Mapping[str, str]) -> Path:
    """``$XONSH_DATA_DIR``, else xonsh's default ``$XDG_DATA_HOME/xonsh``."""
    return env_path(env, "XONSH_DATA_DIR") or xdg_data_home(home, env) / "xonsh"


def open_sqlite_readonly(path: Path) -> sqlite3.Connection | ImportProblem:
    """Open another program's SQLite database without writing to it.

    Text columns come back as ``bytes`` so one badly encoded row is a problem for that row,
    not an exception that ends the whole read.
    """
    path = Path(path)
    if not path.is_file():
        return ImportProblem(0, f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.text_factory = bytes
        # a file cut short claims more pages than it has; SQLite refuses it unless told to
        # relax that check (harmless: the connection is read-only)
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return ImportProblem(0, f"{path} is not a readable SQLite database ({exc})")
    return conn


def column_names(conn: sqlite3.Connection, table: str) -> set[str] | ImportProblem:
    """The columns of ``table``, or a problem when the table is missing or unreadable."""
    try:
        rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
    except sqlite3.Error as exc:
        return ImportProblem(0, f"cannot read the {table} table ({exc})")
    if not rows:
        return ImportProblem(0, f"no {table} table: not the database this importer reads")
    return {r[1].decode() if isinstance(r[1], bytes) else r[1] for r in rows}


def text(value: object) -> str | None:
    """A SQLite text value (bytes, under our text factory) as ``str``; ``None`` if unusable."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        return value
    return str(value)


def iter_rows(
    conn: sqlite3.Connection, table: str, columns: list[str]
) -> Iterator[tuple | ImportProblem]:
    """``(rowid, *columns)`` of every readable row of ``table``, in rowid (insertion) order.

    A damaged or truncated database fails on some pages only: the rows before are kept, the
    damaged stretch is reported once, and reading resumes at the next rowid that can be
    reached, so every row SQLite can still read is imported.
    """
    sql = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid"
    last = -(2**63)
    probe_from = last
    damaged: tuple[int, str] | None = None  # (last good rowid, error) of the current stretch
    while True:
        try:
            for row in conn.execute(sql, (last,)):
                if damaged is not None:
                    yield _damage_problem(*damaged, row[0])
                    damaged = None
                last = probe_from = row[0]
                yield row
            if damaged is not None:
                yield _damage_problem(*damaged, None)
            return
        except sqlite3.Error as exc:
            if damaged is None:
                damaged = (last, str(exc))
            # probe past the last place that failed too, so every retry moves forward
            resume = _next_readable_rowid(conn, table, probe_from)
            if resume is None:
                yield _damage_problem(*damaged, None)
                return
            last, probe_from = resume - 1, resume


def _damage_problem(good: int, error: str, resume: int | None) -> ImportProblem:
    where = "from the start" if good == -(2**63) else f"after row {good}"
    until = "to the end" if resume is None else f"until row {resume}"
    return ImportProblem(
        max(good, 0) + 1, f"rows {where} {until} are unreadable ({error}); skipped"
    )


def _next_readable_rowid(conn: sqlite3.Connection, table: str, last: int) -> int | None:
    """The first rowid past a damaged stretch that SQLite can read.

    Probes ever further (1, 2, 4, … rows on) until a seek works, then narrows back so that
    readable rows just behind the damage are not jumped over.
    """
    sql = f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1"

    def probe(at: int) -> tuple[bool, int | None]:
        try:
            row = conn.execute(sql, (at,)).fetchone()
        except sqlite3.Error:
            return False, None
        return True, None if row is None else row[0]

    base = max(last, 0)
    bad, step = base, 1
    while True:
        ok, found = probe(base + step)
        if ok:
            break
        bad = base + step
        step *= 2
        if base + step >= 2**63:
            return None
    good = base + step
    while good - bad > 1:
        mid = (good + bad) // 2
        ok, at_mid = probe(mid)
        if ok:
            good, found = mid, at_mid
        else:
            bad = mid
    return found


def histfile_for(env: Mapping[str, str], shell: str) -> Path | None:
    """``$HISTFILE`` when it plausibly belongs to ``shell``.

    Bash and zsh both read ``$HISTFILE``; when it is exported we give it to the shell the
    user logs in with (``$SHELL``), or to the shell its file name mentions.
    """
    path = env_path(env, "HISTFILE")
    if path is None:
        return None
    login = os.path.basename(env.get("SHELL", ""))
    others = {"bash", "zsh"} - {shell}
    if shell in path.name:
        return path
    if login == shell and not any(o in path.name for o in others):
        return path
    return None


def unique_paths(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats, first occurrence kept (default-path lists)."""
    seen: set[Path] = set()
    out = []
    for p in paths:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
