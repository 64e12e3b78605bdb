"""Lexical search: Okapi BM25 over command words, and plain substring search.

Both are baselines for ``delta search`` and BM25 is also one of its signals. Postings are kept
as numpy arrays (CSR by term) so a query over 100k commands is a few vector operations, and
the index can be saved with the rest of the search state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from delta_core.search.words import stemmed_words, words


class Bm25:
    """Okapi BM25 (k1=1.2, b=0.75) over a fixed list of documents."""

    def __init__(self, vocab: dict[str, int], indptr, docs, tfs, lengths, *, stemmed: bool):
        self.vocab = vocab
        self.indptr = indptr
        self.docs = docs
        self.tfs = tfs
        self.lengths = lengths
        self.stemmed = stemmed
        self.avgdl = float(lengths.mean()) if len(lengths) else 1.0

    @classmethod
    def build(cls, texts: Sequence[str], *, stemmed: bool = False) -> Bm25:
        """Index ``texts``; document ids are their positions."""
        split = stemmed_words if stemmed else words
        vocab: dict[str, int] = {}
        pairs_t: list[int] = []
        pairs_d: list[int] = []
        pairs_f: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for d, text in enumerate(texts):
            counts = Counter(split(text))
            lengths[d] = sum(counts.values())
            for t, n in counts.items():
                pairs_t.append(vocab.setdefault(t, len(vocab)))
                pairs_d.append(d)
                pairs_f.append(n)
        term = np.asarray(pairs_t, dtype=np.int32)
        doc = np.asarray(pairs_d, dtype=np.int32)
        tf = np.asarray(pairs_f, dtype=np.float32)
        order = np.lexsort((doc, term))
        term, doc, tf = term[order], doc[order], tf[order]
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.add.at(indptr, term + 1, 1)
        return cls(vocab, np.cumsum(indptr), doc, tf, lengths, stemmed=stemmed)

    def __len__(self) -> int:
        return len(self.lengths)

    def scores(self, query: str, k1: float = 1.2, b: float = 0.75) -> np.ndarray:
        """The BM25 score of every document for ``query`` (zeros where no word matches)."""
        out = np.zeros(len(self.lengths), dtype=np.float32)
        n = len(self.lengths)
        split = stemmed_words if self.stemmed else words
        norm = k1 * (1 - b + b * self.lengths / max(self.avgdl, 1e-9))
        for w in set(split(query)):
            t = self.vocab.get(w)
            if t is None:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            docs, tf = self.docs[lo:hi], self.tfs[lo:hi]
            idf = np.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            out[docs] += idf * tf * (k1 + 1) / (tf + norm[docs])
        return out

    def top(self, query: str, k: int) -> np.ndarray:
        """Ids of the ``k`` best documents with a positive score, best first."""
        s = self.scores(query)
        return top_k(s, k)

    # --- persistence --------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        # the terms as one UTF-8 blob, "\n"-separated (terms are [a-z0-9]+): a fixed-width
        # string array is as wide as the longest term, and one 3,000-character word in a
        # 100k-command history made the saved state 1 GB
        terms = "\n".join(sorted(self.vocab, key=self.vocab.__getitem__)).encode()
        return {
            "bm25_terms": np.frombuffer(terms, dtype=np.uint8),
            "bm25_indptr": self.indptr,
            "bm25_docs": self.docs,
            "bm25_tfs": self.tfs,
            "bm25_lengths": self.lengths,
            "bm25_stemmed": np.array([self.stemmed]),
        }

    @classmethod
    def from_arrays(cls, a) -> Bm25:
        raw = a["bm25_terms"]
        terms = raw.tobytes().decode().split("\n") if raw.dtype == np.uint8 else list(raw)
        if terms == [""]:
            terms = []
        vocab = {str(t): i for i, t in enumerate(terms)}
        return cls(
            vocab,
            a["bm25_indptr"],
            a["bm25_docs"],
            a["bm25_tfs"],
            a["bm25_lengths"],
            stemmed=bool(a["bm25_stemmed"][0]),
        )


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest positive scores, best first (ties by lower index)."""
    pos = np.flatnonzero(scores > 0)
    if len(pos) > k:
        pos = pos[np.argpartition(-scores[pos], k - 1)[:k]]
    return pos[np.lexsort((pos, -scores[pos]))]


def substring_rank(texts: Sequence[str], query: str, k: int) -> list[int]:
    """Baseline: commands containing the whole query, else the most query words, as text.

    This is what a history search box does (``Ctrl-R``, ``history | grep``): literal
    matching, most words matched first, shorter commands first among equals.
    """
    q = query.lower().strip()
    ws = [w for w in q.split() if w]
    scored = []
    for i, t in enumerate(texts):
        low = t.lower()
        if q and q in low:
            scored.append((-(len(ws) + 1), len(t), i))
            continue
        hits = sum(1 for w in ws if w in low)
        if hits:
            scored.append((-hits, len(t), i))
    scored.sort()
    return [i for _, _, i in scored[:k]]
