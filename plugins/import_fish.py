"""Importer for fish's history file (``$XDG_DATA_HOME/fish/fish_history``).

fish writes a YAML-like list, one entry per command::

    - cmd: git commit -m "fix\\nmore"
      when: 1700000000
      paths:
        - some/path

In ``cmd`` a backslash is written ``\\\\`` and a newline ``\\n``; any other backslash is
kept as is (fish's ``unescape_yaml_fish_2_0``). ``paths`` lists arguments that were files;
Delta has no field for them, so they are read past.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import (
    ImportProblem,
    LocalOffsets,
    Record,
    decode_entry,
    epoch_ns,
    hookimpl,
    is_truncated,
    parse_file,
    split_lines,
    truncated_problem,
    unique_paths,
    xdg_data_home,
)

SHELL = "fish"
_ESCAPE = re.compile(r"\\([\\n])")


def unescape(value: str) -> str:
    """A ``cmd:`` value as the command fish ran."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "\\" if m.group(1) == "\\" else "\n", value)


def parse_fish(data: bytes) -> Iterator[Record | ImportProblem]:
    """Records (and problems) from the bytes of a fish history file, in file order."""
    truncated = is_truncated(data)
    lines, decoded = split_lines(data)
    n = len(lines) - truncated
    offsets = LocalOffsets()
    cmd: str | None = None  # the entry being read
    start_ns = 0
    cmd_line = 0

    def entry() -> Record:
        if start_ns:
            return Record(cmd, start_ns, shell=SHELL, utc_offset=offsets(start_ns))
        return Record(cmd, 0, shell=SHELL)

    for i in range(n):
        raw = lines[i]
        if decoded:
            line = raw
        else:
            line = decode_entry(raw, i + 1)
            if isinstance(line, ImportProblem):
                yield line
                if raw[:1] != b" ":
                    # an unreadable entry start: drop the entry it was
                    if cmd is not None and cmd.strip():
                        yield entry()
                    cmd = None
                continue
        if line[:7] == "- cmd: " or line == "- cmd:":
            if cmd is not None and cmd.strip():
                yield entry()
            cmd, start_ns, cmd_line = unescape(line[7:]), 0, i + 1
        elif line[:1] == " ":
            if cmd is None:
                continue
            stripped = line.strip()
            if stripped[:5] == "when:":
                value = stripped[5:].strip()
                start_ns = (epoch_ns(int(value)) if value.isdigit() else None) or 0
                if not start_ns:
                    yield ImportProblem(i + 1, "'when' is not a valid time; kept without it")
        elif line.strip():
            yield ImportProblem(i + 1, "not a fish history line; skipped")
    if truncated:
        last = lines[-1]
        if cmd is not None and last[:1] in (" ", b" "):
            # the cut line belongs to the last entry: drop the entry whole so that it comes in
            # complete (and once) when the file is imported again
            yield ImportProblem(cmd_line, "entry cut off at the end of the file; skipped")
        elif cmd is not None and cmd.strip():
            yield entry()
        yield truncated_problem(len(lines))
    elif cmd is not None and cmd.strip():
        yield entry()


class FishImporter:
    """``delta memory import --from fish``."""

    name = "fish"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        # $fish_history names the session ("default" → fish_history; empty: no history)
        session = env.get("fish_history") or "fish"
        if session == "default":
            session = "fish"
        return unique_paths(
            [
                xdg_data_home(home, env) / "fish" / f"{session}_history",
                home / ".local" / "share" / "fish" / "fish_history",
                home / ".config" / "fish" / "fish_history",  # fish before 2.3
            ]
        )

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return parse_file(path, parse_fish)


@hookimpl
def delta_register_importers(register):
    register(FishImporter())
