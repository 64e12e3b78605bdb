"""Importer for xonsh's SQLite history backend (``$XONSH_DATA_DIR/xonsh-history.sqlite``).

xonsh 0.25 (``xonsh/history/sqlite.py``) keeps one table, ``xonsh_history``, with ``inp``
(input, right-stripped), ``rtn`` (exit status), ``tsb``/``tse`` (start and end, epoch
seconds as REAL), ``sessionid``, ``out``, ``info``, ``frequency`` and, since 0.14, ``cwd``.
Older files lack ``cwd``; we read whichever columns exist. The database is opened read-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import (
    ImportProblem,
    LocalOffsets,
    Record,
    column_names,
    env_path,
    epoch_ns,
    hookimpl,
    iter_rows,
    open_sqlite_readonly,
    text,
    unique_paths,
    xonsh_data_dir,
)

SHELL = "xonsh"
TABLE = "xonsh_history"
WANTED = ("inp", "rtn", "tsb", "tse", "sessionid", "cwd")


def read_xonsh_sqlite(path: Path) -> Iterator[Record | ImportProblem]:
    """Records of every readable row, in insertion order; bad rows become problems."""
    conn = open_sqlite_readonly(path)
    if isinstance(conn, ImportProblem):
        yield conn
        return
    try:
        cols = column_names(conn, TABLE)
        if isinstance(cols, ImportProblem):
            yield cols
            return
        if "inp" not in cols:
            yield ImportProblem(0, f"{TABLE} has no 'inp' column: not a xonsh history")
            return
        present = [c if c in cols else "NULL" for c in WANTED]
        offsets = LocalOffsets()
        for row in iter_rows(conn, TABLE, present):
            if isinstance(row, ImportProblem):
                yield row
                continue
            rowid, inp, rtn, tsb, tse, session, cwd = row
            cmd = text(inp)
            if cmd is None or "\x00" in cmd:
                yield ImportProblem(rowid, f"row {rowid}: 'inp' is not UTF-8 text; skipped")
                continue
            cmd = cmd.rstrip()
            if not cmd:
                continue
            start_ns = (epoch_ns(tsb) or 0) if isinstance(tsb, int | float) else 0
            duration = None
            if start_ns and isinstance(tse, int | float) and tse >= tsb:
                duration = float(tse) - float(tsb)
            exit_ = rtn if isinstance(rtn, int) and -(2**31) <= rtn < 2**31 else None
            yield Record(
                cmd,
                start_ns,
                cwd=text(cwd) or "",
                exit=exit_,
                duration=duration,
                session=text(session) or "",
                shell=SHELL,
                utc_offset=offsets(start_ns) if start_ns else 0,
            )
    finally:
        conn.close()


class XonshSqliteImporter:
    """``delta memory import --from xonsh-sqlite``."""

    name = "xonsh-sqlite"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        paths = [xonsh_data_dir(home, env) / "xonsh-history.sqlite"]
        for var in ("XONSH_HISTORY_SQLITE_FILE", "XONSH_HISTORY_FILE"):
            p = env_path(env, var)
            if p is not None and p.suffix == ".sqlite":
                paths.insert(0, p)
        return unique_paths(paths)

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return read_xonsh_sqlite(path)


@hookimpl
def delta_register_importers(register):
    register(XonshSqliteImporter())
