"""The vector index: an HNSW graph over int8-quantised unit vectors (usearch), on disk.

Why usearch (measured by ``benchmarks/vector_index.py`` on the 2-core machine, 1M vectors of
dimension 384): a query answers in well under the 20 ms budget with recall@10 above 0.95 of
exact search, while an exact scan of 1M float32 vectors costs ~100 ms per query and 1.5 GB.
usearch stores each vector as int8 (384 bytes instead of 1,536), keeps the graph in one file,
adds and removes single keys (incremental indexing), and ships as one small wheel with no
BLAS or torch. hnswlib has no int8 storage; faiss's IVF needs training and a 30 MB wheel;
sqlite-vec's ANN was not stable at the time of writing. The numbers are in the report of
issue 8 and printed by the benchmark.

Labels are integers chosen by the caller (see :mod:`delta_core.search_state`). Removing a key
drops it from the graph; because a removed vector's bytes can survive in usearch's slots,
:meth:`VectorIndex.compacted` rebuilds the graph from the live vectors only, which the search
state does after a ``forget``, ``prune`` or re-filtering removed commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from delta_core.paths import FILE_MODE, private_dir

CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 96


def _usearch() -> Any:
    try:
        from usearch.index import Index
    except ImportError:
        raise RuntimeError(
            "delta search needs usearch: pip install 'xontrib-delta[search]'"
        ) from None
    return Index


class VectorIndex:
    """Approximate nearest neighbours by cosine similarity over labelled unit vectors."""

    def __init__(self, dim: int, *, threads: int = 0, _index: Any = None) -> None:
        self.dim = dim
        self.threads = threads
        self._ix = _index or _usearch()(
            ndim=dim,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def __len__(self) -> int:
        return len(self._ix)

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Insert ``vectors`` (rows, float32 or int8) under ``labels`` (distinct, new)."""
        if len(labels):
            self._ix.add(
                np.asarray(labels, dtype=np.uint64), np.asarray(vectors), threads=self.threads
            )

    def remove(self, labels: np.ndarray) -> None:
        if len(labels):
            self._ix.remove(np.asarray(labels, dtype=np.uint64))

    def contains(self, label: int) -> bool:
        return bool(self._ix.contains(int(label)))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest labels to one query vector and their cosine similarities."""
        if len(self._ix) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        m = self._ix.search(np.asarray(query, dtype=np.float32), min(k, len(self._ix)))
        return m.keys.astype(np.int64), (1.0 - m.distances).astype(np.float32)

    def search_many(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Labels of the ``k`` nearest neighbours of each query row (-1 where fewer exist)."""
        m = self._ix.search(np.asarray(queries, dtype=np.float32), k, threads=self.threads)
        keys = m.keys.astype(np.int64)
        keys[np.arange(k)[None, :] >= m.counts[:, None]] = -1
        return keys

    def labels(self) -> np.ndarray:
        return np.asarray(self._ix.keys, dtype=np.int64)

    def compacted(self) -> VectorIndex:
        """A new index holding only the live vectors: removed ones leave memory and file."""
        fresh = VectorIndex(self.dim, threads=self.threads)
        labels = self.labels()
        for s in range(0, len(labels), 65536):
            part = labels[s : s + 65536]
            fresh.add(part, np.stack(self._ix.get(part.astype(np.uint64))).astype(np.int8))
        return fresh

    def memory_bytes(self) -> int:
        return int(self._ix.memory_usage)

    # --- persistence --------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically (temp file, fsync, rename), mode 0600."""
        path = Path(path)
        private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
        self._ix.save(str(tmp))
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dim: int, *, view: bool = False, threads: int = 0) -> VectorIndex:
        """Open a saved index; ``view`` memory-maps it read-only instead of loading it."""
        ix = _usearch()(
            ndim=dim,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        if view:
            ix.view(str(path))
        else:
            ix.load(str(path))
        ix.expansion_search = EXPANSION_SEARCH
        return cls(dim, threads=threads, _index=ix)
