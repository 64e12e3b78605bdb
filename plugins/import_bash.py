"""Importer for bash's history file (``~/.bash_history`` or ``$HISTFILE``).

Two layouts exist. Without ``HISTTIMEFORMAT`` bash writes one command per line. With it,
each command is preceded by a ``#<epoch seconds>`` line; when the file *starts* with such a
line, bash reads everything up to the next timestamp as one (possibly multi-line) command,
which is how ``shopt -s lithist`` keeps loops and here-documents whole. We follow bash's own
reader (``lib/readline/histfile.c``), so the commands come out as bash would recall them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import (
    ImportProblem,
    LocalOffsets,
    Record,
    decode_entry,
    epoch_ns,
    histfile_for,
    hookimpl,
    is_truncated,
    parse_file,
    split_lines,
    truncated_problem,
    unique_paths,
)

SHELL = "bash"


def _is_stamp(line: str | bytes) -> bool:
    # bash's HIST_TIMESTAMP_START: a '#' followed by a digit
    return line[:1] in ("#", b"#") and line[1:2].isdigit()


def _stamp_ns(line: str | bytes) -> int | None:
    digits = line[1:].strip()
    if isinstance(digits, bytes):
        digits = digits.decode("ascii", "replace")
    return epoch_ns(int(digits)) if digits.isdigit() else None


def parse_bash(data: bytes) -> Iterator[Record | ImportProblem]:
    """Records (and problems) from the bytes of a bash history file, in file order."""
    truncated = is_truncated(data)
    lines, decoded = split_lines(data)
    n = len(lines) - truncated
    if lines and _is_stamp(lines[0]):
        yield from _multiline(lines, n, decoded)
    else:
        yield from _one_per_line(lines, n, decoded)
    if truncated:
        yield truncated_problem(len(lines))


def _one_per_line(lines, n: int, decoded: bool) -> Iterator[Record | ImportProblem]:
    offsets = LocalOffsets()
    start_ns = 0
    for i in range(n):
        line = lines[i]
        if line[:1] in ("#", b"#") and line[1:2].isdigit():  # _is_stamp, inlined: hot loop
            start_ns = _stamp_ns(line) or 0
            if not start_ns:
                yield ImportProblem(i + 1, "timestamp line is not a valid time; ignored")
            continue
        if not line.strip():
            continue
        if decoded:
            cmd = line
        else:
            cmd = decode_entry(line, i + 1)
            if isinstance(cmd, ImportProblem):
                yield cmd
                start_ns = 0
                continue
        if start_ns:
            yield Record(cmd, start_ns, shell=SHELL, utc_offset=offsets(start_ns))
            start_ns = 0
        else:
            yield Record(cmd, 0, shell=SHELL)


def _multiline(lines, n: int, decoded: bool) -> Iterator[Record | ImportProblem]:
    offsets = LocalOffsets()
    joiner = "\n" if decoded else b"\n"
    start_ns = 0
    first = 0
    body: list = []

    def flush():
        raw = joiner.join(body).strip(joiner)
        if not raw.strip():
            return None
        cmd = raw if decoded else decode_entry(raw, first)
        if isinstance(cmd, ImportProblem):
            return cmd
        if start_ns:
            return Record(cmd, start_ns, shell=SHELL, utc_offset=offsets(start_ns))
        return Record(cmd, 0, shell=SHELL)

    for i in range(n):
        line = lines[i]
        if _is_stamp(line):
            if body:
                item = flush()
                if item is not None:
                    yield item
                body = []
            start_ns = _stamp_ns(line) or 0
            if not start_ns:
                yield ImportProblem(i + 1, "timestamp line is not a valid time; ignored")
            continue
        if not body:
            first = i + 1
        body.append(line)
    if body:
        item = flush()
        if item is not None:
            yield item


class BashImporter:
    """``delta memory import --from bash``."""

    name = "bash"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        found = histfile_for(env, SHELL)
        return unique_paths([*([found] if found else []), home / ".bash_history"])

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return parse_file(path, parse_bash)


@hookimpl
def delta_register_importers(register):
    register(BashImporter())
