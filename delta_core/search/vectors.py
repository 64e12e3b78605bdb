"""The vector index: an HNSW graph over int8-quantised unit vectors (usearch), on disk.

Why usearch, measured by ``benchmarks/vector_index.py`` on the 2-core machine (1M clustered
unit vectors of dimension 384, 300 fresh queries, machine shared, load average 3-13):

=====================  ======  ======  =========
method                 p50 ms  p95 ms  recall@10
=====================  ======  ======  =========
exact numpy float32    942     2726    1.000
usearch int8, ef=128   0.91    5.30    0.933
usearch int8, ef=256   1.34    5.88    0.962
=====================  ======  ======  =========

so ``ef=256`` (:data:`EXPANSION_SEARCH`) meets both budgets (p95 <= 20 ms, recall@10 >= 0.95).
At 100k vectors, a personal history's size, a brute-force matrix was measured too (200
queries, load average 8): exact numpy float32 p50 13.2 ms / p95 25.3 ms (1,536 B/vector),
exact int8 (converted in chunks) 34.7 / 52.0 ms (384 B/vector), float16 453 / 690 ms (no
BLAS), usearch int8 0.38 / 8.6 ms at recall@10 0.968 (849 B/vector). The graph stays: the
whole query budget is 50 ms and the embedding takes 15-25 ms of it.
Memory: 797 B/vector in RAM, 533 B/vector on disk (int8 vector + graph), against 1,536 B for
float32 alone. usearch also adds and removes single keys (incremental indexing), keeps the
graph in one file that can be memory-mapped, and ships as one small wheel with no BLAS or
torch. hnswlib has no int8 storage (4x the memory); faiss's IVF needs training and a much
larger wheel; sqlite-vec only scans exactly. Building is the slow part: 263 vectors/s on the
loaded shared machine (about an hour for 1M); a personal history of distinct commands is
usually 10k-100k vectors.

Labels are integers chosen by the caller (see :mod:`delta_core.search.state`). Removing a key
drops it from the graph; because a removed vector's bytes can survive in usearch's slots,
:meth:`VectorIndex.compacted` rebuilds the graph from the live vectors only, which the search
state does after a ``forget``, ``prune`` or re-filtering removed commands.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from delta_core.paths import FILE_MODE, private_dir

CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256  # recall@10 0.96 at 1M vectors, p95 5.9 ms (see above)


def _usearch() -> Any:
    # usearch 2.26 loaded before onnxruntime 1.32 makes onnxruntime's import crash the process
    # (segfault; measured here). Loaded the other way round both work, so a process that
    # searches can still serve suggestions.
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    try:
        from usearch.index import Index
    except ImportError:
        raise RuntimeError(
            "delta search needs usearch: pip install 'xontrib-delta[search]'"
        ) from None
    return Index


def _empty_index(dim: int, expansion_add: int = EXPANSION_ADD) -> Any:
    """A new usearch index with Delta's metric, quantization and graph settings."""
    return _usearch()(
        ndim=dim,
        metric="cos",
        dtype="i8",
        connectivity=CONNECTIVITY,
        expansion_add=expansion_add,
        expansion_search=EXPANSION_SEARCH,
    )


class VectorIndex:
    """Approximate nearest neighbours by cosine similarity over labelled unit vectors."""

    def __init__(
        self, dim: int, *, threads: int = 0, expansion_add: int = EXPANSION_ADD, _index: Any = None
    ) -> None:
        self.dim = dim
        self.threads = threads
        self.expansion_add = expansion_add
        self._ix = _index or _empty_index(dim, expansion_add)

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
        fresh = VectorIndex(self.dim, threads=self.threads, expansion_add=self.expansion_add)
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
        ix = _empty_index(dim)
        if view:
            ix.view(str(path))
        else:
            ix.load(str(path))
        ix.expansion_search = EXPANSION_SEARCH
        return cls(dim, threads=threads, _index=ix)
