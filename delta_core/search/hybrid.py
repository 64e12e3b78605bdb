"""Ranking for ``delta search``: meaning, words and context, fused.

Three retrievers each rank distinct commands: the vector index (meaning of the query against
each command and its programs' purposes), BM25 over the same text (exact words, rare flags,
file names), and substring matching (what the user remembers typing). Their ranks are fused
by reciprocal rank fusion (RRF: robust to the different score scales, no tuning), then small
context terms reorder near ties: used recently, used often, used in this directory, and
usually succeeded. Filters (``--cwd``, ``--since``, ``--exit``) restrict the records first, so
a command qualifies through any record that passes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from delta_core.search.lexical import top_k
from delta_core.search.state import EXIT_UNKNOWN, SearchState

RRF_K = 60.0
POOL = 100  # candidates taken from each retriever
MIN_SIMILARITY = 0.2  # below this cosine a "meaning" match is noise (unrelated texts score ~0-0.2)
DAY_NS = 86_400 * 10**9


@dataclass
class Hit:
    """One distinct command found, shown through its most recent qualifying record."""

    command: str
    score: float
    key: bytes
    start_ns: int
    cwd: str
    exit: int | None
    count: int
    signals: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "command": self.command,
            "score": round(self.score, 6),
            "time": self.start_ns / 1e9,
            "cwd": self.cwd,
            "exit": self.exit,
            "count": self.count,
            "signals": self.signals,
            "key": self.key.hex(),
        }


class Searcher:
    """Answers queries over one :class:`SearchState`; the embedder is used lazily."""

    def __init__(self, state: SearchState, embedder=None) -> None:
        self.state = state
        self.embedder = embedder

    def record_mask(self, cwd: str | None, since_ns: int | None, exit: int | None) -> np.ndarray:
        st = self.state
        mask = np.ones(len(st), dtype=bool)
        if cwd is not None:
            ids = [i for i, c in enumerate(st.cwds) if c == cwd]
            mask &= np.isin(st.rec_cwd, np.asarray(ids, dtype=np.int32))
        if since_ns is not None:
            mask &= st.rec_ns >= since_ns
        if exit is not None:
            mask &= st.rec_exit == exit
        return mask

    def search(
        self,
        query: str,
        *,
        cwd: str | None = None,
        since_ns: int | None = None,
        exit: int | None = None,
        limit: int = 10,
        here: str | None = None,
        now_ns: int | None = None,
        semantic: bool = True,
    ) -> list[Hit]:
        """The best ``limit`` commands for ``query`` among records passing the filters."""
        st = self.state
        n = len(st.commands)
        if n == 0 or len(st) == 0:
            return []
        mask = self.record_mask(cwd, since_ns, exit)
        allowed = np.zeros(n, dtype=bool)
        allowed[st.rec_label[mask]] = True
        allowed &= st.alive
        filtered = not mask.all()
        fused = np.zeros(n, dtype=np.float64)
        signals: dict[int, list[str]] = {}

        def add(ranked: np.ndarray, name: str) -> None:
            ranked = ranked[allowed[ranked]][:POOL]
            fused[ranked] += 1.0 / (RRF_K + 1 + np.arange(len(ranked)))
            for i in ranked[:POOL].tolist():
                signals.setdefault(i, []).append(name)

        q = query.strip()
        if q:
            if semantic and self.embedder is not None and st.vectors is not None:
                qv = np.asarray(self.embedder.embed([q]))[0]
                pool = min(len(st.vectors), POOL * (20 if filtered else 1))
                labels, sims = st.vectors.search(qv, pool)
                add(labels[sims >= MIN_SIMILARITY], "meaning")
            if st.bm25 is not None and len(st.bm25) == n:
                add(top_k(st.bm25.scores(q) * allowed, POOL), "words")
            low = q.lower()
            sub = [i for i, c in enumerate(st.commands) if c and low in c.lower()]
            sub.sort(key=lambda i: len(st.commands[i]))
            add(np.asarray(sub, dtype=np.int64), "typed")
        cand = np.flatnonzero(fused > 0) if q else np.flatnonzero(allowed)
        if len(cand) == 0:
            return []
        ctx, latest = self._context(cand, mask, here, now_ns)
        score = fused[cand] + ctx
        order = cand[np.lexsort((cand, -score))][:limit]
        best = dict(zip(cand.tolist(), score.tolist(), strict=True))
        counts = np.bincount(st.rec_label[mask], minlength=n)
        hits = []
        for label in order.tolist():
            r = latest[label]
            code = int(st.rec_exit[r])
            hits.append(
                Hit(
                    command=st.commands[label],
                    score=best[label],
                    key=bytes(st.rec_key[r]),
                    start_ns=int(st.rec_ns[r]),
                    cwd=st.cwds[int(st.rec_cwd[r])],
                    exit=None if code == EXIT_UNKNOWN else code,
                    count=int(counts[label]),
                    signals=signals.get(label, []),
                )
            )
        return hits

    def _context(self, cand, mask, here, now_ns) -> tuple[np.ndarray, dict[int, int]]:
        """Small bonuses that reorder near ties, and each candidate's latest record."""
        st = self.state
        now_ns = time.time_ns() if now_ns is None else now_ns
        rows = np.flatnonzero(mask & np.isin(st.rec_label, cand))
        labels = st.rec_label[rows]
        order = np.lexsort((st.rec_ns[rows], labels))  # by label, then time
        rows, labels = rows[order], labels[order]
        last_idx = np.r_[np.flatnonzero(np.diff(labels)), len(labels) - 1]
        latest = dict(zip(labels[last_idx].tolist(), rows[last_idx].tolist(), strict=True))
        pos = {lab: i for i, lab in enumerate(cand.tolist())}
        k = np.asarray([pos[lab] for lab in labels.tolist()], dtype=np.int64)
        count = np.bincount(k, minlength=len(cand)).astype(np.float64)
        fails = np.bincount(
            k, weights=(st.rec_exit[rows] > 0).astype(np.float64), minlength=len(cand)
        )
        here_hits = np.zeros(len(cand))
        if here is not None:
            ids = [i for i, c in enumerate(st.cwds) if c == here]
            if ids:
                inside = np.isin(st.rec_cwd[rows], np.asarray(ids, dtype=np.int32))
                here_hits = np.bincount(k, weights=inside.astype(np.float64), minlength=len(cand))
        last_ns = np.asarray([st.rec_ns[latest[lab]] for lab in cand.tolist()], dtype=np.float64)
        age_days = np.maximum(0.0, (now_ns - last_ns) / DAY_NS)
        unit = 1.0 / (RRF_K + 1)  # the weight of a first place in one retriever
        return (
            unit
            * (
                0.25 * np.exp(-age_days / 30.0)
                + 0.25 * np.minimum(1.0, np.log1p(count) / np.log(50.0))
                + 0.35 * (here_hits > 0)
                - 0.25 * fails / np.maximum(count, 1.0)
            ),
            latest,
        )
