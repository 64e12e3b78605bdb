"""Importer for atuin's history database (``~/.local/share/atuin/history.db``).

atuin's client migrations create ``history`` with ``id``, ``timestamp`` (start, epoch
nanoseconds), ``duration`` (nanoseconds), ``exit``, ``command``, ``cwd``, ``session``,
``hostname`` (``host:user``), later ``deleted_at``, and in recent versions ``shell``.
``exit``/``duration`` are -1 while a command runs (or when its shell died before it ended),
which we read as unknown. Rows the user deleted in atuin (``deleted_at`` set) are not
imported. The database is opened read-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import (
    MAX_EPOCH_S,
    MIN_EPOCH_S,
    NS,
    ImportProblem,
    LocalOffsets,
    Record,
    column_names,
    env_path,
    hookimpl,
    iter_rows,
    open_sqlite_readonly,
    text,
    unique_paths,
    xdg_data_home,
)

TABLE = "history"
WANTED = (
    "timestamp",
    "duration",
    "exit",
    "command",
    "cwd",
    "session",
    "hostname",
    "deleted_at",
    "shell",
)


def _split_host(hostname: str) -> tuple[str, str]:
    host, sep, user = hostname.rpartition(":")
    return (host, user) if sep else (hostname, "")


def read_atuin(path: Path) -> Iterator[Record | ImportProblem]:
    """Records of every readable, undeleted row, in insertion order."""
    conn = open_sqlite_readonly(path)
    if isinstance(conn, ImportProblem):
        yield conn
        return
    try:
        cols = column_names(conn, TABLE)
        if isinstance(cols, ImportProblem):
            yield cols
            return
        if not {"command", "timestamp"} <= cols:
            yield ImportProblem(0, f"{TABLE} has no command/timestamp columns: not atuin's")
            return
        present = [c if c in cols else "NULL" for c in WANTED]
        offsets = LocalOffsets()
        hosts: dict[bytes, tuple[str, str]] = {}
        for row in iter_rows(conn, TABLE, present):
            if isinstance(row, ImportProblem):
                yield row
                continue
            rowid, ts, duration, exit_, command, cwd, session, hostname, deleted, shell = row
            if deleted is not None:
                continue
            cmd = text(command)
            if cmd is None or "\x00" in cmd:
                yield ImportProblem(rowid, f"row {rowid}: command is not UTF-8 text; skipped")
                continue
            if not cmd.strip():
                continue
            start_ns = (
                ts if isinstance(ts, int) and MIN_EPOCH_S * NS <= ts <= MAX_EPOCH_S * NS else 0
            )
            if not start_ns:
                yield ImportProblem(
                    rowid, f"row {rowid}: timestamp is not a valid time; kept without it"
                )
            if not isinstance(exit_, int) or exit_ == -1 or not -(2**31) <= exit_ < 2**31:
                exit_ = None
            dur = duration / NS if isinstance(duration, int) and duration >= 0 else None
            key = hostname if isinstance(hostname, bytes) else b""
            host_user = hosts.get(key)
            if host_user is None:
                host_user = hosts[key] = _split_host(text(hostname) or "")
            where = text(cwd) or ""
            yield Record(
                cmd,
                start_ns,
                cwd="" if where == "unknown" else where,  # what atuin's own importers store
                exit=exit_,
                duration=dur,
                session=text(session) or "",
                host=host_user[0],
                user=host_user[1],
                shell=text(shell) or "",
                utc_offset=offsets(start_ns) if start_ns else 0,
            )
    finally:
        conn.close()


class AtuinImporter:
    """``delta memory import --from atuin``."""

    name = "atuin"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        paths = []
        db = env_path(env, "ATUIN_DB_PATH")
        if db is not None:
            paths.append(db)
        data_dir = env_path(env, "ATUIN_DATA_DIR")
        if data_dir is not None:
            paths.append(data_dir / "history.db")
        paths.append(xdg_data_home(home, env) / "atuin" / "history.db")
        paths.append(home / ".local" / "share" / "atuin" / "history.db")
        return unique_paths(paths)

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return read_atuin(path)


@hookimpl
def delta_register_importers(register):
    register(AtuinImporter())
