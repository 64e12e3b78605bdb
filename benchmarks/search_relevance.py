"""Description -> command retrieval on NL2Bash and tldr: ``delta search`` against BM25.

Each corpus's commands are stored as records in a throw-away Delta root and indexed by the
real pipeline (store -> sync -> embedder -> vector index, with the programs' purposes from
this machine's manual pages); each description is a query whose target is its command.
Queries are split deterministically: even positions tune :data:`delta_core.search.hybrid.TUNED`
(``--tune`` prints a grid), odd positions are reported. Methods, in the same run: BM25 over
the commands (``lexical.py``, and ``bm25s`` when installed, with its query time), the vector
index alone, ``delta search`` with the weights it had before tuning (BASELINE) and with the
tuned ones. Embeddings are cached under ``--cache`` so a second run only searches.

    python benchmarks/search_relevance.py                        # both corpora, 2,000 queries each
    python benchmarks/search_relevance.py --corpus tldr --tune
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

from delta_core.memory.store import Store
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.plugin.protocols import TokenEmbedder
from delta_core.records.record import Record
from delta_core.search.hybrid import BASELINE, TUNED, Searcher, Weights
from delta_core.search.lexical import Bm25
from delta_core.search.meaning import Purposes
from delta_core.search.sync import open_state, sync, upgrade

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_corpus(name: str, data: Path) -> tuple[list[str], list[str]]:
    """(descriptions, commands), one pair per example."""
    if name == "nl2bash":
        cmds = (data / "nl2bash" / "all.cm").read_text(encoding="utf-8").splitlines()
        nls = (data / "nl2bash" / "all.nl").read_text(encoding="utf-8").splitlines()
        return nls, cmds
    rows = (data / "tldr" / "examples_common_linux.tsv").read_text(encoding="utf-8").splitlines()
    nls, cmds = [], []
    for row in rows[1:]:
        _platform, _page, desc, cmd = row.split("\t")
        nls.append(desc.rstrip(":").strip())
        cmds.append(cmd)
    return nls, cmds


class CachedEmbedder:
    """An embedder whose vectors are kept in a file per text, so reruns skip the model."""

    def __init__(self, inner, cache: Path) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.path = cache / f"{inner.name}.npz"
        self.vecs: dict[bytes, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as a:
                keys = [row.tobytes() for row in a["keys"]]  # uint8 rows: S12 would drop NULs
                self.vecs = dict(zip(keys, a["vecs"], strict=True))
        self.dirty = False

    @staticmethod
    def key(t: str) -> bytes:
        return hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=12).digest()

    def embed(self, texts):
        keys = [self.key(t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in self.vecs))
        if todo:
            want = {k: t for k, t in zip(keys, texts, strict=True) if k in set(todo)}
            got = self.inner.embed([want[k] for k in todo])
            self.vecs.update(zip(todo, got, strict=True))
            self.dirty = True
        return np.stack([self.vecs[k] for k in keys]) if keys else np.zeros((0, self.dim))

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = np.frombuffer(b"".join(self.vecs), dtype=np.uint8).reshape(-1, 12)
            np.savez(self.path, keys=keys, vecs=np.stack(list(self.vecs.values())))


def recall(rankings: list[list[str]], targets: list[str]) -> tuple[float, float]:
    r1 = sum(bool(r) and r[0] == t for r, t in zip(rankings, targets, strict=True))
    r10 = sum(t in r[:10] for r, t in zip(rankings, targets, strict=True))
    return r1 / len(targets), r10 / len(targets)


def run_queries(searcher: Searcher, queries, now_ns) -> list[list[str]]:
    return [[h.command for h in searcher.search(q, limit=10, now_ns=now_ns)] for q in queries]


def evaluate(name: str, args, console: Console, embedder) -> None:
    nls, cmds = load_corpus(name, args.data)
    pairs = list(range(len(cmds)))
    if args.queries and args.queries < len(pairs):
        pairs = sorted(random.Random(0).sample(pairs, args.queries))
    tune = [i for k, i in enumerate(pairs) if k % 2 == 0]
    report = [i for k, i in enumerate(pairs) if k % 2 == 1]
    cached = CachedEmbedder(embedder, args.cache / name)
    with tempfile.TemporaryDirectory() as root:
        t0 = 1_700_000_000 * 10**9
        with Store(root) as store:
            store.add_many(
                Record(c, t0 + i * 10**6, cwd="/home/user", exit=0, session=f"s{i}")
                for i, c in enumerate(dict.fromkeys(cmds))
            )
            purposes = Purposes(Path(root) / "purposes.json")
            state = open_state(Path(root), cached)
            t = time.perf_counter()
            sync(store, state, cached, purposes)
            index_s = time.perf_counter() - t
            quick = None
            if isinstance(embedder, TokenEmbedder):
                # the index as it is right after an import: static vectors only
                quick = open_state(Path(root), embedder)
                t = time.perf_counter()
                sync(store, quick, embedder, purposes)
                static_s = time.perf_counter() - t
                console.print(
                    f"{name}: static vectors in {static_s:.1f} s "
                    f"({len(quick.commands) / static_s:,.0f}/s, token table made)"
                )
        cached.save()
        docs = state.commands
        console.print(
            f"{name}: {len(docs):,} distinct commands indexed in {index_s:.0f} s "
            f"({len(docs) / index_s:,.0f}/s, embeddings {'cached' if not cached.dirty else 'new'})"
        )
        if args.tune:
            grid = tune_grid()
            qs, ts = [nls[i] for i in tune], [cmds[i] for i in tune]
            cached.embed(qs)
            rows = []
            for w in grid:
                r1, r10 = recall(run_queries(Searcher(state, cached, w), qs, t0), ts)
                rows.append((r10, r1, w))
                console.print(f"  tune r@1 {r1:.3f} r@10 {r10:.3f}  {w}")
            rows.sort(key=lambda r: (-r[0], -r[1]))
            console.print(f"best on the tuning half: {rows[0]}")
        qs, ts = [nls[i] for i in report], [cmds[i] for i in report]
        cached.embed(qs)
        cached.save()
        ranked: dict[str, list[list[str]]] = {}
        plain = Bm25.build(docs)
        t = time.perf_counter()
        ranked["BM25 (lexical.py)"] = [[docs[j] for j in plain.top(q, 10)] for q in qs]
        lex_ms = (time.perf_counter() - t) / len(qs) * 1e3
        bm25s_ms = None
        try:
            import bm25s

            retriever = bm25s.BM25()
            retriever.index(
                bm25s.tokenize(docs, stopwords=None, show_progress=False), show_progress=False
            )
            t = time.perf_counter()
            res, _ = retriever.retrieve(
                bm25s.tokenize(qs, stopwords=None, show_progress=False), k=10, show_progress=False
            )
            bm25s_ms = (time.perf_counter() - t) / len(qs) * 1e3
            ranked["BM25 (bm25s)"] = [[docs[j] for j in row] for row in res.tolist()]
        except ImportError:
            pass
        alone = Weights(words=0, typed=0, recent=0, often=0, here=0, fails=0)
        ranked["meaning only"] = run_queries(Searcher(state, cached, alone), qs, t0)
        if quick is not None:
            ranked["meaning only, static"] = run_queries(Searcher(quick, cached, alone), qs, t0)
            ranked["delta search, static (before upgrade)"] = run_queries(
                Searcher(quick, cached, TUNED), qs, t0
            )
            upgrade(quick, cached, purposes, len(quick.commands) // 2)  # most used half
            ranked["delta search, half upgraded"] = run_queries(
                Searcher(quick, cached, TUNED), qs, t0
            )
        lat = {}
        for label, w in (("delta search, before", BASELINE), ("delta search, tuned", TUNED)):
            s = Searcher(state, cached, w)
            t = time.perf_counter()
            ranked[label] = run_queries(s, qs, t0)
            lat[label] = (time.perf_counter() - t) / len(qs) * 1e3
    table = Table(title=f"{name}: {len(report):,} reported queries over {len(docs):,} commands")
    for col in ("method", "recall@1", "recall@10", "r@10 vs BM25", "r@10 vs before"):
        table.add_column(col, justify="right")
    base = recall(ranked["BM25 (lexical.py)"], ts)[1]
    before = recall(ranked["delta search, before"], ts)[1]
    for m, r in ranked.items():
        r1, r10 = recall(r, ts)
        table.add_row(m, f"{r1:.3f}", f"{r10:.3f}", f"{r10 / base:.2f}x", f"{r10 / before:.2f}x")
    console.print(table)
    console.print(
        f"BM25 query: lexical.py {lex_ms:.2f} ms"
        + (f", bm25s {bm25s_ms:.2f} ms" if bm25s_ms is not None else "")
        + "; search (query vectors cached): "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in lat.items())
        + f"; load average {os.getloadavg()[0]:.1f}"
    )


def tune_grid() -> list[Weights]:
    out = []
    for meaning in (1.0, 2.0):
        for words in (0.5, 1.0):
            for cosine in (0.0, 4.0, 8.0, 16.0):
                out.append(replace(TUNED, meaning=meaning, words=words, cosine=cosine))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--corpus", choices=["nl2bash", "tldr", "both"], default="both")
    ap.add_argument("--queries", type=int, default=2000, help="sampled queries (0: all)")
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "delta-bench")
    ap.add_argument("--tune", action="store_true", help="print a weight grid on the tuning half")
    args = ap.parse_args()
    console = Console()
    embedder = Components.from_manager(make_plugin_manager()).embedders[args.embedder]
    for name in ("nl2bash", "tldr") if args.corpus == "both" else (args.corpus,):
        evaluate(name, args, console, embedder)


if __name__ == "__main__":
    main()
