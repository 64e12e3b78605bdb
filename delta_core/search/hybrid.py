"""Ranking for ``delta search``: meaning, words and context, fused.

Four retrievers each rank distinct commands: the vector index (meaning of the query against
each command and its programs' purposes), BM25 over the same text (exact words, rare flags,
file names), substring matching (what the user remembers typing) and, when its weight is
set, rapidfuzz's weighted ratio (the same, with typos; off by default: 100-140 ms a query
over 58k commands on the shared 2-core machine, and it ranks short texts such as ``st``
first for ``gti stauts``; ``delta memory search --mode fuzzy`` is the typo-tolerant search). Their ranks are fused by weighted reciprocal rank fusion (RRF:
robust to the different score scales), plus the cosine itself, then context terms reorder
near ties: used recently, used often, used in this directory, and usually succeeded. The
weights (:class:`Weights`) were tuned on one half of NL2Bash and tldr descriptions and are
reported on the other half (``benchmarks/search_relevance.py``). Filters (``--cwd``,
``--since``, ``--exit``) restrict the records first, so a command qualifies through any
record that passes them. Commands that run Delta itself never qualify, and redaction
placeholders are not matched (:mod:`delta_core.memory.matchable`).
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field

import numpy as np

from delta_core.memory.matchable import is_own_command, match_text
from delta_core.records import codec
from delta_core.search.lexical import top_k
from delta_core.search.state import EXIT_UNKNOWN, SearchState

RRF_K = 60.0
POOL = 100  # candidates taken from each retriever
MIN_SIMILARITY = 0.2  # below this cosine a "meaning" match is noise (unrelated texts score ~0-0.2)
FUZZY_CUTOFF = 80.0  # rapidfuzz WRatio: "dokcer stats" ~ "docker stats" is 92
FUZZY_MAX_WORDS = 4  # a longer query is a description, not a half-remembered command
DAY_NS = 86_400 * 10**9
STATIC_SCALE = 1.2  # static cosines -> the full model's (a quantile fit on NL2Bash: 1.22)


@dataclass(frozen=True)
class Weights:
    """How much each retriever and context term counts (units of a first place in RRF)."""

    meaning: float = 1.0
    words: float = 1.0
    typed: float = 1.0
    fuzzy: float = 0.0
    cosine: float = 0.0  # times (cosine - MIN_SIMILARITY), on top of the meaning rank
    recent: float = 0.25
    often: float = 0.25
    here: float = 0.35
    fails: float = 0.25
    static: float = 0.5  # meaning, for static vectors while none is upgraded


#: The weights ``delta search`` used before tuning: plain RRF plus small context terms.
BASELINE = Weights()
#: Best recall@10 on the tuning half of NL2Bash (1,000 queries; 0.692 against 0.682 for
#: BASELINE; benchmarks/search_relevance.py --tune): the cosine itself, not only its rank.
TUNED = Weights(cosine=8.0)


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

    def __init__(self, state: SearchState, embedder=None, weights: Weights | None = None) -> None:
        self.state = state
        self.embedder = embedder
        self.weights = TUNED if weights is None else weights
        self._texts: list[str] | None = None
        self._own: np.ndarray | None = None
        self._blob = ""  # every text, lower-cased, "\n"-joined: one C-level scan per query
        self._starts = np.zeros(0, dtype=np.int64)
        self._by_len = np.zeros(0, dtype=np.int64)

    def _matchable(self) -> tuple[list[str], np.ndarray]:
        """Each label's lower-cased text without placeholders, and which run Delta itself."""
        if self._texts is None or len(self._texts) != len(self.state.commands):
            cmds = self.state.commands
            self._texts = [match_text(c).lower().replace("\n", " ") for c in cmds]
            self._own = np.fromiter(
                # the quick test first: is_own_command parses, and most commands are not Delta's
                (("delta" in c or ":" in c) and is_own_command(c) for c in cmds),
                bool,
                len(cmds),
            )
            lengths = np.fromiter(map(len, self._texts), np.int64, len(cmds))
            # shortest first, so the first matches found are the ones ranked first
            self._by_len = np.lexsort((np.arange(len(cmds)), lengths))
            ordered = lengths[self._by_len]
            self._starts = np.concatenate([[0], np.cumsum(ordered + 1)[:-1]]).astype(np.int64)
            self._blob = "\n".join(self._texts[i] for i in self._by_len.tolist())
        assert self._own is not None
        return self._texts, self._own

    def record_mask(
        self,
        cwd: str | None,
        since_ns: int | None,
        exit: int | None,
        *,
        host: str | None = None,
        session: str | None = None,
        under: str | None = None,
    ) -> np.ndarray:
        """Records passing the filters: directory, time, exit status, host, session, and
        ``under`` (a directory tree, such as a git workspace)."""
        st = self.state
        mask = np.ones(len(st), dtype=bool)
        if cwd is not None:
            ids = [i for i, c in enumerate(st.cwds) if c == cwd]
            mask &= np.isin(st.rec_cwd, np.asarray(ids, dtype=np.int32))
        if under is not None:
            root = under.rstrip("/") or "/"
            ids = [
                i
                for i, c in enumerate(st.cwds)
                if c == root or c.startswith(root if root == "/" else root + "/")
            ]
            mask &= np.isin(st.rec_cwd, np.asarray(ids, dtype=np.int32))
        for value, names, col in (
            (host, st.hosts, st.rec_host),
            (session, st.sessions, st.rec_session),
        ):
            if value is not None:
                ids = [i for i, c in enumerate(names) if c == value]
                mask &= np.isin(col, np.asarray(ids, dtype=np.int32))
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
        host: str | None = None,
        session: str | None = None,
        under: str | None = None,
    ) -> list[Hit]:
        """The best ``limit`` commands for ``query`` among records passing the filters."""
        st = self.state
        n = len(st.commands)
        if n == 0 or len(st) == 0:
            return []
        mask = self.record_mask(cwd, since_ns, exit, host=host, session=session, under=under)
        texts, own = self._matchable()
        allowed = np.zeros(n, dtype=bool)
        allowed[st.rec_label[mask]] = True
        allowed &= st.alive & ~own
        filtered = not mask.all()
        fused = np.zeros(n, dtype=np.float64)
        signals: dict[int, list[str]] = {}
        w = self.weights
        unit = RRF_K + 1  # a first place in one retriever, at weight 1, adds 1 / unit

        def add(ranked: np.ndarray, name: str, weight, scale=None) -> np.ndarray:
            ok = allowed[ranked]
            ranked = ranked[ok][:POOL]
            if weight:
                if scale is not None:  # a weight per hit
                    weight = weight * scale[ok][:POOL]
                fused[ranked] += weight / (RRF_K + 1 + np.arange(len(ranked)))
                for i in ranked.tolist():
                    signals.setdefault(i, []).append(name)
            return ranked

        q = query.strip()
        if q:
            if semantic and self.embedder is not None and st.vectors is not None:
                want = POOL * 20 if filtered else POOL + int(own.sum())
                labels, sims, quick = self._meaning(q, want)
                keep = sims >= MIN_SIMILARITY
                labels, sims, quick = labels[keep], sims[keep], quick[keep]
                ok = allowed[labels]
                # Right after an import every vector is static: their hits then count half.
                # Half upgraded, both kinds count alike (discounting static hits lost 0.07-0.12
                # of recall@10). The cosine bonus needs one scale of cosines, so it is left
                # out when the hits include static vectors. Recall@10 on the tuning halves,
                # NL2Bash / tldr: static only 0.562 / 0.418 (with the bonus 0.543 / 0.359),
                # half upgraded 0.598 / 0.423 (with the bonus 0.572 / 0.398).
                only_static = not len(st.vectors)
                trust = np.where(quick, w.static if only_static else 1.0, 1.0)
                add(labels, "meaning", w.meaning, trust)
                if w.cosine and not quick.any():
                    top, top_sims = labels[ok][:POOL], sims[ok][:POOL]
                    fused[top] += w.cosine * (top_sims - MIN_SIMILARITY) / unit
            if st.bm25 is not None and len(st.bm25) == n:
                add(top_k(st.bm25.scores(q) * allowed, POOL), "words", w.words)
            low = q.lower()
            add(self._containing(low, allowed), "typed", w.typed)
            if w.fuzzy and len(low.split()) <= FUZZY_MAX_WORDS:
                add(self._fuzzy(low, texts, allowed), "fuzzy", w.fuzzy)
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
                    # numpy's S16 drops trailing zero bytes: a key ending in 0x00 is
                    # given back one byte short unless it is padded again
                    key=bytes(st.rec_key[r]).ljust(codec.KEY_SIZE, b"\0"),
                    start_ns=int(st.rec_ns[r]),
                    cwd=st.cwds[int(st.rec_cwd[r])],
                    exit=None if code == EXIT_UNKNOWN else code,
                    count=int(counts[label]),
                    signals=signals.get(label, []),
                )
            )
        return hits

    def _meaning(self, q: str, want: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels nearest to ``q`` in meaning, best first, their cosines, and which are static.

        Full-model vectors are searched with the model's query vector; commands the
        background pass has not upgraded yet are searched in the static index with a static
        query vector (:mod:`delta_core.search.static`); the lists merge by cosine, a static
        one times :data:`STATIC_SCALE`. Once every command is upgraded only the first runs.
        """
        st = self.state
        assert self.embedder is not None and st.vectors is not None
        labels = np.zeros(0, dtype=np.int64)
        sims = np.zeros(0, dtype=np.float32)
        if len(st.vectors):  # nothing upgraded yet: the model need not even load
            labels, sims = st.vectors.search(np.asarray(self.embedder.embed([q]))[0], want)
        quick = np.zeros(len(labels), dtype=bool)
        embedder = st.static_embedder
        if embedder is not None and st.static is not None and len(st.static):
            more, more_sims = st.static.search(embedder.embed([q])[0], want)
            labels = np.concatenate([labels, more])
            sims = np.concatenate([sims, more_sims * STATIC_SCALE])
            quick = np.concatenate([quick, np.ones(len(more), dtype=bool)])
            order = np.argsort(-sims, kind="stable")[:want]
            labels, sims, quick = labels[order], sims[order], quick[order]
        return labels, sims, quick

    def _containing(self, low: str, allowed: np.ndarray) -> np.ndarray:
        """Labels whose text contains ``low``, shortest first (at most :data:`POOL`)."""
        if "\n" in low or not low:
            return np.zeros(0, dtype=np.int64)
        found = re.finditer(re.escape(low), self._blob)
        out: list[np.ndarray] = []
        have = 0
        while have < POOL:
            at = [m.start() for m in itertools.islice(found, 2048)]
            if not at:
                break
            ranks = np.unique(np.searchsorted(self._starts, np.asarray(at), side="right") - 1)
            labels = self._by_len[ranks]
            labels = labels[allowed[labels]]
            if out:  # a text met again at the start of the next chunk
                labels = labels[~np.isin(labels, out[-1])]
            out.append(labels)
            have += len(labels)
        return np.concatenate(out)[:POOL] if out else np.zeros(0, dtype=np.int64)

    def _fuzzy(self, low: str, texts: list[str], allowed: np.ndarray) -> np.ndarray:
        """Labels whose text is close to the query despite typos, best first (rapidfuzz)."""
        try:
            from rapidfuzz import fuzz, process
        except ImportError:
            return np.zeros(0, dtype=np.int64)
        found = process.extract(
            low, texts, scorer=fuzz.WRatio, limit=POOL * 2, score_cutoff=FUZZY_CUTOFF
        )
        return np.asarray([i for _, _, i in found if allowed[i]], dtype=np.int64)

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
        w = self.weights
        return (
            unit
            * (
                w.recent * np.exp(-age_days / 30.0)
                + w.often * np.minimum(1.0, np.log1p(count) / np.log(50.0))
                + w.here * (here_hits > 0)
                - w.fails * fails / np.maximum(count, 1.0)
            ),
            latest,
        )
