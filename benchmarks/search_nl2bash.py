"""NL2Bash as a retrieval benchmark: find each description's command among all 12.6k.

The English description is the query; the target is its command (any record with the same
text counts). Every command is stored as a record in a throw-away Delta root and indexed by
the real pipeline (store -> sync -> embedder -> vector index), then ``delta search``'s ranking
is compared in the same run with BM25 over the commands and with substring search (what a
history search box does). Descriptions are never indexed: only commands (and the purposes of
their programs from this machine's manual pages) are documents.

    python benchmarks/search_nl2bash.py                   # 2,000 sampled queries
    python benchmarks/search_nl2bash.py --queries 0       # all 12,607

Result on the shared 2-core machine (2,000 queries, load average 4-13):

    method          recall@1  recall@10
    substring          0.054      0.155
    BM25               0.261      0.489
    semantic only      0.374      0.650
    delta search       0.398      0.669   (1.37x BM25 at recall@10)
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from delta_core.memory.store import Store
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.records.record import Record
from delta_core.search.hybrid import Searcher
from delta_core.search.lexical import Bm25, substring_rank
from delta_core.search.meaning import Purposes
from delta_core.search.sync import open_state, sync

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nl2bash"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--queries", type=int, default=2000, help="sampled queries (0: all)")
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--no-purposes", action="store_true", help="embed the command alone")
    args = ap.parse_args()
    console = Console()
    cmds = (args.data / "all.cm").read_text(encoding="utf-8").splitlines()
    nls = (args.data / "all.nl").read_text(encoding="utf-8").splitlines()
    assert len(cmds) == len(nls)
    pairs = list(range(len(cmds)))
    if args.queries:
        pairs = sorted(random.Random(0).sample(pairs, args.queries))
    embedder = Components.from_manager(make_plugin_manager()).embedders[args.embedder]

    with tempfile.TemporaryDirectory() as root:
        store = Store(root)
        t0 = 1_700_000_000 * 10**9
        store.add_many(
            # one session per command: NL2Bash pairs are not sessions (no order between them)
            Record(c, t0 + i * 10**6, cwd="/home/user", exit=0, session=f"nl2bash-{i}")
            for i, c in enumerate(cmds)
        )
        purposes = None if args.no_purposes else Purposes(Path(root) / "purposes.json")
        state = open_state(Path(root), embedder)
        with Progress(console=console) as progress:
            task = progress.add_task("embedding commands", total=None)
            t = time.perf_counter()
            sync(
                store,
                state,
                embedder,
                purposes,
                progress=lambda d, n: progress.update(task, completed=d, total=n),
            )
            index_s = time.perf_counter() - t
        n_docs = len(state.commands)
        sample = random.Random(1).sample(state.commands, min(1000, n_docs))
        t = time.perf_counter()
        embedder.embed(sample)
        raw_rate = len(sample) / (time.perf_counter() - t)

        searcher = Searcher(state, embedder)
        plain = Bm25.build(state.commands)
        hits = {m: [0, 0] for m in ("substring", "BM25", "semantic only", "delta search")}
        lat = []
        with Progress(console=console) as progress:
            task = progress.add_task("queries", total=len(pairs))
            for i in pairs:
                q, target = nls[i], cmds[i]
                ranked = {
                    "substring": [state.commands[j] for j in substring_rank(state.commands, q, 10)],
                    "BM25": [state.commands[j] for j in plain.top(q, 10)],
                }
                qv = embedder.embed([q])[0]
                labels, _ = state.vectors.search(qv, 10)
                ranked["semantic only"] = [state.commands[j] for j in labels]
                t = time.perf_counter()
                found = searcher.search(q, limit=10, now_ns=t0)
                lat.append(time.perf_counter() - t)
                ranked["delta search"] = [h.command for h in found]
                for m, r in ranked.items():
                    hits[m][0] += bool(r[:1]) and r[0] == target
                    hits[m][1] += target in r
                progress.advance(task)
        store.close()

    n = len(pairs)
    table = Table(title=f"NL2Bash retrieval: {n:,} queries over {n_docs:,} distinct commands")
    for col in ("method", "recall@1", "recall@10", "recall@10 vs BM25"):
        table.add_column(col, justify="right")
    base = hits["BM25"][1] / n
    for m, (r1, r10) in hits.items():
        table.add_row(m, f"{r1 / n:.3f}", f"{r10 / n:.3f}", f"{(r10 / n) / base:.2f}x")
    console.print(table)
    console.print(
        f"embedder {embedder.name}{' (command only)' if args.no_purposes else ' (command + purposes)'}: "
        f"indexing {n_docs / index_s:,.0f} commands/s end to end ({index_s:.0f} s), "
        f"raw embedding {raw_rate:,.0f} commands/s; delta search p50 "
        f"{np.percentile(lat, 50) * 1e3:.1f} ms, p95 {np.percentile(lat, 95) * 1e3:.1f} ms per query; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
