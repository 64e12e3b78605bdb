"""Importer for xonsh's JSON history backend: one file per session.

The files live in ``$XONSH_DATA_DIR/history_json/xonsh-<sessionid>.json`` (older xonsh put
them straight in ``$XONSH_DATA_DIR``). Each is a LazyJSON document whose ``data`` holds the
``sessionid``, the session's environment and ``cmds``: objects with ``inp`` (the input, with
its newline), ``rtn`` (exit status), ``ts`` ([start, end] in epoch seconds) and ``cwd``
(when ``$XONSH_HISTORY_SAVE_CWD`` is on). PATH may be that directory or one file.

A file cut short (a crash while xonsh rewrote it, a full disk) is not valid JSON; the
commands in it are then salvaged one object at a time, so only the damaged tail is lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import (
    ImportProblem,
    LocalOffsets,
    Record,
    env_path,
    epoch_ns,
    hookimpl,
    read_bytes,
    unique_paths,
    xonsh_data_dir,
)

SHELL = "xonsh"
_decoder = json.JSONDecoder()


def session_files(path: Path) -> list[Path]:
    """The session files of a history directory, oldest first (by modification time)."""
    files = []
    for entry in os.scandir(path):
        if entry.name.startswith("xonsh-") and entry.name.endswith(".json") and entry.is_file():
            files.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
    return [p for _, _, p in sorted(files)]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _salvage(text: str) -> tuple[dict, list[tuple[int, dict]], int | None]:
    """From a damaged file: the session fields found, and each command object still whole.

    Returns ``(meta, [(line, cmd)], line where reading stopped or None)``.
    """
    meta: dict = {}
    at = text.find('"sessionid": "')
    if at >= 0:
        end = text.find('"', at + 14)
        if end > 0:
            meta["sessionid"] = text[at + 14 : end]
    cmds: list[tuple[int, dict]] = []
    data_at = text.find('"data": {')  # LazyJSON's index, before it, has a "cmds" key too
    at = text.find('"cmds": [', max(data_at, 0))
    if at < 0:
        return meta, cmds, 1
    pos = at + len('"cmds": [')
    end = len(text)
    while pos < end:
        while pos < end and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= end or text[pos] == "]":
            return meta, cmds, None
        try:
            obj, nxt = _decoder.raw_decode(text, pos)
        except ValueError:
            return meta, cmds, _line_of(text, pos)
        if isinstance(obj, dict):
            cmds.append((_line_of(text, pos), obj))
        pos = nxt
    return meta, cmds, _line_of(text, pos)


def _cmd_lines(doc: dict, text: str) -> list[int]:
    """Line numbers of the command objects, from LazyJSON's own offset index when present.

    ``index.offsets.cmds`` holds each command's offset from the start of ``data``, which is
    at ``locs[0]``.
    """
    try:
        base = int(doc["locs"][0])
        offsets = doc["index"]["offsets"]["cmds"]
    except (KeyError, TypeError, ValueError, IndexError):
        return []
    lines = []
    for o in offsets if isinstance(offsets, list) else ():
        if isinstance(o, dict) and isinstance(o.get("__total__"), int):
            lines.append(_line_of(text, base + o["__total__"]))
    return lines


def parse_session(data: bytes, label: str) -> Iterator[Record | ImportProblem]:
    """Records (and problems) of one session file; ``label`` prefixes problem messages."""
    damaged = False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "replace")
        damaged = True
        yield ImportProblem(
            _line_of(text, exc.start), f"{label}: not UTF-8; its damaged commands are skipped"
        )
    lines: list[int] = []
    try:
        doc = json.loads(text)
        body = doc.get("data", doc) if isinstance(doc, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("cmds"), list):
            yield ImportProblem(1, f"{label}: not a xonsh history file (no 'cmds' list)")
            return
        cmds = list(enumerate(body["cmds"]))
        lines = _cmd_lines(doc, text)
        stopped = None
    except ValueError as exc:
        body, salvaged, stopped = _salvage(text)
        cmds = [(line, cmd) for line, cmd in salvaged]
        if stopped is None:
            stopped = _line_of(text, getattr(exc, "pos", 0))
        lines = [line for line, _ in salvaged]
    session = body.get("sessionid") if isinstance(body.get("sessionid"), str) else ""
    if not session and label.startswith("xonsh-") and label.endswith(".json"):
        session = label[6:-5]  # a cut-short file lost its sessionid; the name still has it
    env = body.get("env") if isinstance(body.get("env"), dict) else {}
    host = env.get("HOSTNAME") or env.get("HOST") or ""
    user = env.get("USER") or env.get("LOGNAME") or ""
    host = host if isinstance(host, str) else ""
    user = user if isinstance(user, str) else ""
    offsets = LocalOffsets()
    for k, (_, cmd) in enumerate(cmds):
        line = lines[k] if k < len(lines) else 0
        item = _record(cmd, session, host, user, offsets, damaged)
        if isinstance(item, str):
            yield ImportProblem(line, f"{label}: command {k + 1}: {item}; skipped")
        elif item is not None:
            yield item
    if stopped is not None:
        yield ImportProblem(
            stopped, f"{label}: file is damaged or cut short here; the rest is skipped"
        )


def _record(
    cmd, session: str, host: str, user: str, offsets: LocalOffsets, damaged: bool
) -> Record | str | None:
    """A record from one ``cmds`` object, a reason it is unusable, or ``None`` if blank.

    ``damaged``: the file held bytes that are not UTF-8 (now U+FFFD); commands showing them
    are skipped rather than stored altered.
    """
    if not isinstance(cmd, dict):
        return "not an object"
    inp = cmd.get("inp")
    if not isinstance(inp, str):
        return "'inp' is missing or not text"
    if damaged and "\ufffd" in inp:
        return "'inp' holds bytes that are not UTF-8"
    if "\x00" in inp:
        return "'inp' holds NUL bytes"
    inp = inp.rstrip()  # xonsh keeps the newline; its SQLite backend strips it too
    if not inp:
        return None
    rtn = cmd.get("rtn")
    exit_ = rtn if isinstance(rtn, int) and not isinstance(rtn, bool) else None
    if exit_ is not None and not -(2**31) <= exit_ < 2**31:
        exit_ = None
    start_ns, duration = 0, None
    ts = cmd.get("ts")
    if isinstance(ts, list) and ts and isinstance(ts[0], int | float):
        start_ns = epoch_ns(ts[0]) or 0
        if start_ns and len(ts) > 1 and isinstance(ts[1], int | float) and ts[1] >= ts[0]:
            duration = float(ts[1]) - float(ts[0])
    cwd = cmd.get("cwd")
    return Record(
        inp,
        start_ns,
        cwd=cwd if isinstance(cwd, str) else "",
        exit=exit_,
        duration=duration,
        session=session,
        host=host,
        user=user,
        shell=SHELL,
        utc_offset=offsets(start_ns) if start_ns else 0,
    )


def read_xonsh_json(path: Path) -> Iterator[Record | ImportProblem]:
    """Records of a session file, or of every session file of a history directory."""
    path = Path(path)
    if path.is_dir():
        try:
            files = session_files(path)
        except OSError as exc:
            yield ImportProblem(0, f"cannot list {path}: {exc.strerror or exc}")
            return
    else:
        files = [path]
    for f in files:
        data = read_bytes(f)
        if isinstance(data, ImportProblem):
            yield data
            continue
        yield from parse_session(data, f.name)


class XonshJsonImporter:
    """``delta memory import --from xonsh-json``."""

    name = "xonsh-json"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        data_dir = xonsh_data_dir(home, env)
        paths = [data_dir / "history_json"]
        current = env_path(env, "XONSH_HISTORY_FILE")
        if current is not None and current.suffix == ".json":
            paths.insert(0, current.parent)
        return unique_paths(paths)

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return read_xonsh_json(path)


@hookimpl
def delta_register_importers(register):
    register(XonshJsonImporter())
