"""Importer for zsh's history file (``$HISTFILE``, usually ``~/.zsh_history``).

zsh writes one entry per line, plain or, with ``EXTENDED_HISTORY``, as
``: <start epoch>:<elapsed seconds>;<command>``. A newline inside a command is written as a
backslash at the end of the line; a command that itself ends in a backslash (and spaces) gets
one extra space so that it is not taken for a continuation. Bytes that zsh uses internally
(0x83–0xA2, and NUL) are "metafied": written as 0x83 followed by the byte XOR 0x20. We undo
exactly what zsh's ``readhistline``/``unmetafy`` undo, so entries come back as zsh sees them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import (
    ImportProblem,
    LocalOffsets,
    Record,
    decode_entry,
    env_path,
    epoch_ns,
    histfile_for,
    hookimpl,
    is_truncated,
    parse_file,
    split_lines,
    truncated_problem,
    unique_paths,
)

SHELL = "zsh"
META = 0x83


def unmetafy(data: bytes) -> bytes:
    """Undo zsh's metafication: every 0x83 byte marks the next byte as XOR 0x20."""
    if b"\x83" not in data:
        return data
    parts = data.split(b"\x83")
    out = [parts[0]]
    for part in parts[1:]:
        # Meta is never followed by a newline or another Meta in what zsh writes; leave such
        # bytes alone so one stray 0x83 cannot swallow a line break.
        if part and part[0] != 0x0A:
            out.append(bytes((part[0] ^ 0x20,)))
            out.append(part[1:])
        else:
            out.append(b"\x83")
            out.append(part)
    return b"".join(out)


def _text_bytes(data: bytes) -> bytes:
    """The file unmetafied, unless it was evidently never metafied.

    A history written by another tool (a converter, an editor) holds plain UTF-8, where
    0x83 is an ordinary continuation byte; unmetafying it would garble every such character.
    """
    plain = unmetafy(data)
    if plain is data:
        return data
    try:
        plain.decode("utf-8")
    except UnicodeDecodeError:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return plain
        return data
    return plain


def _entries(lines, n: int, decoded: bool) -> Iterator[tuple[int, str | bytes]]:
    """``(first line number, raw entry)`` with continuation lines joined as zsh does."""
    bs, nl, sp = ("\\", "\n", " ") if decoded else (b"\\", b"\n", b" ")
    i = 0
    while i < n:
        start = i
        line = lines[i]
        i += 1
        if line.endswith(bs):
            parts = [line[:-1]]
            while i < n:
                nxt = lines[i]
                i += 1
                if nxt.endswith(bs):
                    parts.append(nxt[:-1])
                else:
                    parts.append(nxt)
                    break
            else:
                parts.append(line[:0])  # a backslash on the last line: zsh keeps the newline
            line = nl.join(parts)
        if line.endswith(sp) and line.rstrip(sp).endswith(bs):
            line = line[:-1]  # the space zsh added after a final backslash
        yield start + 1, line


def _extended(entry: str) -> tuple[int, float | None, str] | None:
    """``(start seconds, elapsed seconds, command)`` of an extended-history entry.

    zsh writes an elapsed time of 0 whenever it saves the entry before the command ends
    (``INC_APPEND_HISTORY``, ``SHARE_HISTORY``), so 0 means "unknown", not "instant".
    """
    head, sep, cmd = entry.partition(";")
    if not sep:
        return None
    when, _, elapsed = head[2:].partition(":")
    if not when.isdigit():  # zsh writes no spaces; others might
        when = when.strip()
        if not when.isdigit():
            return None
    if elapsed == "0" or not elapsed:
        return int(when), None, cmd
    if not elapsed.isdigit():
        elapsed = elapsed.strip()
        if not elapsed.isdigit():
            return None
    secs = int(elapsed)
    return int(when), float(secs) if secs else None, cmd


def parse_zsh(data: bytes) -> Iterator[Record | ImportProblem]:
    """Records (and problems) from the bytes of a zsh history file, in file order."""
    truncated = is_truncated(data)
    lines, decoded = split_lines(_text_bytes(data))
    n = len(lines) - truncated
    offsets = LocalOffsets()
    for lineno, raw in _entries(lines, n, decoded):
        entry = raw if decoded else decode_entry(raw, lineno)
        if isinstance(entry, ImportProblem):
            yield entry
            continue
        ext = _extended(entry) if entry[:2] == ": " else None
        if ext is None:
            if entry.strip():
                yield Record(entry, 0, shell=SHELL)
            continue
        when, elapsed, cmd = ext
        if not cmd.strip():
            continue
        start_ns = epoch_ns(when)
        if start_ns is None:
            yield ImportProblem(lineno, "timestamp is not a valid time; kept without it")
            yield Record(cmd, 0, duration=elapsed, shell=SHELL)
        else:
            yield Record(cmd, start_ns, duration=elapsed, shell=SHELL, utc_offset=offsets(start_ns))
    if truncated:
        yield truncated_problem(len(lines))


class ZshImporter:
    """``delta memory import --from zsh``."""

    name = "zsh"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        found = histfile_for(env, SHELL)
        zdotdir = env_path(env, "ZDOTDIR") or home
        return unique_paths(
            [
                *([found] if found else []),
                zdotdir / ".zsh_history",
                home / ".zsh_history",
                zdotdir / ".zhistory",
                home / ".zhistory",
                # zsh-newuser-install's default
                zdotdir / ".histfile",
                home / ".histfile",
            ]
        )

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return parse_file(path, parse_zsh)


@hookimpl
def delta_register_importers(register):
    register(ZshImporter())
