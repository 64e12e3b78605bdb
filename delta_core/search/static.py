"""Static vectors: a command searchable by meaning in microseconds, before the full model runs.

A full pass of the sentence model over a large memory takes minutes on two cores (about 46
commands/s measured, 2026-12-02), so a freshly imported history would wait that long for
search by meaning. A *static*
embedding (model2vec's idea) costs a table look-up instead: a word piece of the model's
vocabulary is run through the model once, alone, and that output is kept as the piece's
vector (unit length, float16, cached under the Delta root, made from the installed model
when first needed, never fetched: :class:`TokenTable`). A text's vector is then the weighted
mean of its pieces' vectors minus their common direction, normalised.

Weights: the piece's inverse document frequency over the memory's own commands (frozen when
fitted, refitted when the memory has doubled) times ``log(1 + rank)`` of the piece in the
vocabulary (BERT's word pieces are listed roughly by frequency: model2vec's Zipf weighting,
which damps punctuation and one-letter pieces). Measured on NL2Bash (1,000 descriptions,
static vectors alone, recall@10): plain mean 0.265, Zipf 0.337, IDF 0.474, both and centred
0.509; the full model scores 0.662.

Static vectors live in another space than the full model's, so a query is compared with each
kind through its own query vector (see :mod:`delta_core.search.hybrid`). The full model
replaces them in the background (:func:`delta_core.search.sync.upgrade`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from delta_core.log import problem
from delta_core.paths import write_private
from delta_core.plugin.protocols import TokenEmbedder

MAX_PIECES = 128  # as the full model: a very long command keeps its first pieces
#: BERT's 2,048 most frequent whole words (ids from 1997 on follow frequency)
COMMON = np.arange(1997, 1997 + 2048, dtype=np.int64)
CHUNK = 1024  # texts pooled at once (bounds the gathered matrix to ~60 MB)


def table_path(root: Path, embedder: Any) -> Path:
    """Where the static table of ``embedder`` is cached under the Delta root."""
    tag = hashlib.blake2b(embedder.token_table_version.encode(), digest_size=6).hexdigest()
    return Path(root) / "search" / f"static-{embedder.name}-{tag}.npy"


class TokenTable:
    """Unit vectors of the word pieces met so far (float16), the others made on demand.

    Running the whole vocabulary through MiniLM takes 20-65 s on two cores; a memory of 60k
    distinct commands of the public histories uses 5,240 pieces, so rows are made when a
    text first needs them (rows not made yet are NaN) and kept in one file under the Delta
    root. The pieces of :data:`COMMON` are always made: their mean is the common direction
    removed from every text's vector.
    """

    def __init__(self, root: Path, embedder: Any) -> None:
        self.embedder = embedder
        self.path = table_path(root, embedder)
        self.rows: np.ndarray | None = None
        self.added = 0  # rows made since the last save
        self._centre: np.ndarray | None = None

    def _load(self) -> np.ndarray:
        if self.rows is None:
            try:
                rows = np.load(self.path)
                if rows.shape != (self.embedder.vocab_size, self.embedder.dim):
                    raise ValueError("another vocabulary")
            except (OSError, ValueError):
                rows = np.full((self.embedder.vocab_size, self.embedder.dim), np.nan, np.float16)
            self.rows = rows
        return self.rows

    def ensure(self, ids: np.ndarray) -> np.ndarray:
        """The table, with the rows of ``ids`` (and of :data:`COMMON`) made."""
        rows = self._load()
        want = np.unique(np.concatenate([ids, COMMON[len(rows) > COMMON]]))
        missing = want[np.isnan(rows[want, 0])]
        if len(missing):
            made = np.asarray(self.embedder.token_vectors(missing.tolist()), dtype=np.float32)
            made /= np.maximum(np.linalg.norm(made, axis=1, keepdims=True), 1e-12)
            rows[missing] = made.astype(np.float16)
            self.added += len(missing)
        return rows

    def centre(self) -> np.ndarray:
        """The mean of the common pieces' vectors, which every text shares."""
        if self._centre is None:
            rows = self.ensure(np.zeros(0, dtype=np.int64))
            self._centre = rows[COMMON[len(rows) > COMMON]].astype(np.float32).mean(axis=0)
        return self._centre

    def save(self) -> None:
        """Write the rows made so far (atomically, 0600); a failure only costs time later."""
        if self.rows is None or not self.added:
            return
        buf = io.BytesIO()
        np.save(buf, self.rows)
        try:
            write_private(self.path, buf.getvalue())
            self.added = 0
        except OSError as exc:
            problem(f"could not cache the static search table: {exc}")


class StaticEmbedder:
    """Texts -> unit vectors as weighted means of token vectors (no model run)."""

    def __init__(self, inner: Any, root: Path, weights: np.ndarray | None = None) -> None:
        self.inner = inner
        self.name = f"{inner.name}-static"
        self.dim = int(inner.dim)
        self.weights = weights
        self.table = TokenTable(root, inner)

    @classmethod
    def for_embedder(cls, inner: Any, root: Path) -> StaticEmbedder | None:
        """The static embedder beside ``inner``, or ``None`` when it gives no token vectors."""
        return cls(inner, root) if isinstance(inner, TokenEmbedder) else None

    def pieces(self, texts: Sequence[str]) -> list[list[int]]:
        return [ids[:MAX_PIECES] for ids in self.inner.token_ids(list(texts))]

    def fit(self, texts: Sequence[str]) -> np.ndarray:
        """Fix the weights on ``texts`` (the memory's commands) and return them."""
        return self.fit_pieces(self.pieces(texts))

    def fit_pieces(self, pieces: Sequence[Sequence[int]]) -> np.ndarray:
        """:meth:`fit` for texts already split into pieces."""
        n = int(self.inner.vocab_size)
        df = np.zeros(n, dtype=np.float64)
        for ids in pieces:
            if ids:
                df[np.unique(np.asarray(ids, dtype=np.int64))] += 1
        idf = np.log((len(pieces) + 1) / (df + 1)) + 1.0
        self.weights = (idf * np.log1p(np.arange(n))).astype(np.float32)
        return self.weights

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A float32 array ``(len(texts), dim)`` of unit rows (a fixed one for no pieces)."""
        return self.embed_pieces(self.pieces(texts))

    def embed_pieces(self, pieces: Sequence[Sequence[int]]) -> np.ndarray:
        """:meth:`embed` for texts already split into pieces."""
        if self.weights is None:
            raise RuntimeError("static weights are not fitted")
        out = np.zeros((len(pieces), self.dim), dtype=np.float32)
        total = sum(map(len, pieces))
        rows = self.table.ensure(np.fromiter((i for p in pieces for i in p), np.int64, total))
        centre = self.table.centre()
        for s in range(0, len(pieces), CHUNK):
            part = pieces[s : s + CHUNK]
            lens = np.fromiter(map(len, part), np.int64, len(part))
            have = np.flatnonzero(lens)
            if not len(have):
                continue
            ids = np.fromiter((i for p in part for i in p), np.int64, int(lens.sum()))
            vecs = rows[ids].astype(np.float32)
            vecs -= centre
            vecs *= self.weights[ids, None]
            starts = np.concatenate([[0], np.cumsum(lens[have])[:-1]])
            out[s + have] = np.add.reduceat(vecs, starts, axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        empty = norms[:, 0] < 1e-12
        out /= np.maximum(norms, 1e-12)
        out[empty, 0] = 1.0
        return out
