"""What `delta search` keeps beside the shards: one vector per distinct command, and records.

Layout under ``<root>/search/<embedder>/``: ``state-<gen>.npz`` (the records' search columns,
the distinct commands, BM25 postings, the static weights), ``vectors-<gen>.usearch`` (the
full model's vectors), ``static-<gen>.usearch`` (static vectors of the commands the full model
has not reached yet, :mod:`delta_core.search.static`; absent once all are upgraded) and
``current`` (the generation in force, written last, so a crash mid-save leaves the previous
generation whole). Everything here is derived from the shards and rebuilt by
``delta search --rebuild``; files are 0600 in a 0700 directory.

A vector belongs to a distinct command, not to each record: a history repeats itself (``ls``
thousands of times), so this embeds each text once. Records point at their command's label;
a label whose last record is gone loses its vector and its text. Each live label has exactly
one vector: a full one (``upgraded``) or a static one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from delta_core.paths import private_dir, write_private
from delta_core.search.lexical import Bm25
from delta_core.search.vectors import VectorIndex

EXIT_UNKNOWN = -(2**31)
_COLS = (
    "rec_key",
    "rec_label",
    "rec_ns",
    "rec_exit",
    "rec_cwd",
    "rec_day",
    "rec_host",
    "rec_session",
)


def search_dir(root: Path, embedder: str) -> Path:
    return Path(root) / "search" / embedder


@dataclass
class SearchState:
    """Columns per record and per distinct command, plus the vector and BM25 indexes."""

    dim: int
    embedder: str
    text_version: int
    commands: list[str] = field(default_factory=list)  # label -> command ("" once removed)
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rec_key: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="S16"))
    rec_label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rec_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rec_exit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    rec_cwd: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    rec_day: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    rec_host: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    rec_session: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    cwds: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # for the window's host filter
    sessions: list[str] = field(default_factory=list)  # for its session filter
    day_names: list[str] = field(default_factory=list)
    # day -> [device, inode, records] of its shard when last indexed
    days: dict[str, list[int]] = field(default_factory=dict)
    gen: int = 0
    vectors: VectorIndex | None = None  # full-model vectors of the upgraded labels
    bm25: Bm25 | None = None
    upgraded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    static: VectorIndex | None = None  # static vectors of the labels not upgraded yet
    static_weights: np.ndarray | None = None  # per token piece, fitted on static_fit_n texts
    static_fit_n: int = 0
    static_embedder: Any = None  # not saved: set by whoever knows the table's root
    _label_of: dict[str, int] | None = None

    # --- lookups ------------------------------------------------------------------------
    def label_of(self) -> dict[str, int]:
        if self._label_of is None:
            self._label_of = {c: i for i, c in enumerate(self.commands) if self.alive[i]}
        return self._label_of

    def intern(self, values: list[str], value: str, cache: dict[str, int]) -> int:
        i = cache.get(value)
        if i is None:
            i = cache[value] = len(values)
            values.append(value)
        return i

    def counts(self) -> np.ndarray:
        """Records per label."""
        return np.bincount(self.rec_label, minlength=len(self.commands))

    def __len__(self) -> int:
        return len(self.rec_ns)

    def pending(self) -> np.ndarray:
        """Live labels whose vector is still a static one, the full model's work left."""
        return np.flatnonzero(self.alive & ~self.upgraded)

    # --- persistence --------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write a new generation (arrays, then vectors, then the pointer); drop old ones."""
        private_dir(directory)
        gen = self.gen + 1
        meta = {
            "dim": self.dim,
            "embedder": self.embedder,
            "text_version": self.text_version,
            "commands": self.commands,
            "cwds": self.cwds,
            "hosts": self.hosts,
            "sessions": self.sessions,
            "day_names": self.day_names,
            "days": self.days,
            "static_fit_n": self.static_fit_n,
        }
        arrays = {c: getattr(self, c) for c in _COLS}
        arrays["alive"] = self.alive
        arrays["upgraded"] = self.upgraded
        if self.static_weights is not None:
            arrays["static_weights"] = self.static_weights
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        if self.bm25 is not None:
            arrays.update(self.bm25.arrays())
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_private(directory / f"state-{gen}.npz", buf.getvalue())
        if self.vectors is not None:
            self.vectors.save(directory / f"vectors-{gen}.usearch")
        if self.static is not None and len(self.static):
            self.static.save(directory / f"static-{gen}.usearch")
        write_private(directory / "current", str(gen))
        self.gen = gen
        for p in directory.iterdir():
            if p.name.startswith(("state-", "vectors-", "static-")) and not p.name.split("-")[
                1
            ].startswith(f"{gen}."):
                with contextlib.suppress(OSError):
                    p.unlink()

    @classmethod
    def load(cls, directory: Path, *, view: bool = True) -> SearchState | None:
        """The saved state, or ``None`` when there is none (or it cannot be read)."""
        try:
            gen = int((directory / "current").read_text().strip())
            with np.load(directory / f"state-{gen}.npz", allow_pickle=False) as a:
                meta = json.loads(a["meta"].tobytes().decode())
                st = cls(meta["dim"], meta["embedder"], meta["text_version"])
                for c in _COLS:
                    setattr(st, c, a[c])
                st.alive = a["alive"]
                # a state saved before static vectors existed has only full ones
                st.upgraded = a["upgraded"] if "upgraded" in a else st.alive.copy()
                if "static_weights" in a:
                    st.static_weights = a["static_weights"]
                if "bm25_terms" in a:
                    st.bm25 = Bm25.from_arrays(a)
            st.commands, st.cwds = meta["commands"], meta["cwds"]
            st.hosts, st.sessions = meta["hosts"], meta["sessions"]
            st.day_names, st.days, st.gen = meta["day_names"], meta["days"], gen
            st.static_fit_n = int(meta.get("static_fit_n", 0))
            spath = directory / f"static-{gen}.usearch"
            if spath.exists():
                st.static = VectorIndex.load(spath, st.dim, view=view)
            vpath = directory / f"vectors-{gen}.usearch"
            st.vectors = (
                VectorIndex.load(vpath, st.dim, view=view)
                if vpath.exists()
                else VectorIndex(st.dim)
            )
            return st
        except (OSError, ValueError, KeyError):
            return None


def remove_tree(directory: Path) -> None:
    """Delete a search directory (a rebuild starts from nothing)."""
    if directory.is_dir():
        for p in directory.iterdir():
            os.unlink(p)
        directory.rmdir()
