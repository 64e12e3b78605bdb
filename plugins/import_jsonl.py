"""Importer for Delta's own JSON Lines export format."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from delta_core.api import ImportProblem, Record, hookimpl, read_jsonl_file


class JsonlImporter:
    name = "jsonl"

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        return []

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        return read_jsonl_file(path)


@hookimpl
def delta_register_importers(register):
    register(JsonlImporter())
