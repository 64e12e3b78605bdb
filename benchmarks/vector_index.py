"""Vector index benchmark: usearch HNSW (int8) against exact numpy search, same vectors.

Prints build rate, query latency p50/p95 (one query at a time, as `delta search` asks),
recall@10 against exact search, and memory per vector, for 1M vectors of dimension 384 by
default. Vectors are "real-ish": unit vectors drawn around a two-level hierarchy of random
topic centres (like sentence embeddings, they cluster), or uniform on the sphere with
``--data uniform`` (the hardest case for any graph index). Queries are fresh draws from the
same distribution, not members of the index.

    python benchmarks/vector_index.py                 # 1M, clustered
    python benchmarks/vector_index.py --n 100000 --data uniform
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # threaded BLAS thrashes on 2 shared cores

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from delta_core.search.vectors import VectorIndex


def make_vectors(n: int, dim: int, kind: str, rng: np.random.Generator, topics) -> np.ndarray:
    if kind == "uniform":
        v = rng.standard_normal((n, dim), dtype=np.float32)
    else:
        _top, sub = topics
        pick = rng.integers(0, len(sub), n)
        # each point sits at its own distance from its sub-topic, as real commands do
        scale = rng.uniform(0.4, 1.2, (n, 1)).astype(np.float32) / np.sqrt(dim)
        v = sub[pick] + rng.standard_normal((n, dim), dtype=np.float32) * scale
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def make_topics(dim: int, rng: np.random.Generator, n_top: int = 2000, per: int = 50):
    top = rng.standard_normal((n_top, dim), dtype=np.float32)
    top /= np.linalg.norm(top, axis=1, keepdims=True)
    sub = np.repeat(top, per, axis=0) + rng.standard_normal(
        (n_top * per, dim), dtype=np.float32
    ) * (0.8 / np.sqrt(dim))
    sub /= np.linalg.norm(sub, axis=1, keepdims=True)
    return top, sub


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--data", choices=["clustered", "uniform"], default="clustered")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    console = Console()
    rng = np.random.default_rng(0)
    topics = make_topics(args.dim, rng)
    data = np.empty((args.n, args.dim), dtype=np.float32)
    chunk = 50_000
    index = VectorIndex(args.dim, threads=args.threads)
    with Progress(console=console) as progress:
        task = progress.add_task(f"building {args.n:,} vectors", total=args.n)
        for s in range(0, args.n, chunk):
            e = min(args.n, s + chunk)
            data[s:e] = make_vectors(e - s, args.dim, args.data, rng, topics)
            t = time.perf_counter()
            index.add(np.arange(s, e), data[s:e])
            progress.update(task, completed=e)
            index._build_s = getattr(index, "_build_s", 0.0) + time.perf_counter() - t
    build_s = index._build_s
    queries = make_vectors(args.queries, args.dim, args.data, rng, topics)

    # exact search: the baseline, and the ground truth for recall
    exact_lat = []
    truth = np.empty((args.queries, 10), dtype=np.int64)
    for i, q in enumerate(queries):
        t = time.perf_counter()
        sims = data @ q
        top = np.argpartition(-sims, 10)[:10]
        truth[i] = top[np.argsort(-sims[top])]
        exact_lat.append(time.perf_counter() - t)

    # exact search over an int8 matrix (a quarter of f32's memory, no index to build): the
    # brute-force alternative to a graph for a personal history of <= 100k commands
    q8 = np.clip(np.round(data * 127), -127, 127).astype(np.int8)
    int8_lat, int8_hits = [], 0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        qi = np.round(q * 127).astype(np.float32)
        sims = np.empty(args.n, dtype=np.float32)
        for s in range(0, args.n, 16384):
            sims[s : s + 16384] = q8[s : s + 16384].astype(np.float32) @ qi
        top = np.argpartition(-sims, 10)[:10]
        int8_lat.append(time.perf_counter() - t)
        int8_hits += len(set(top.tolist()) & set(truth[i].tolist()))
    del q8

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.usearch"
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        file_bytes = path.stat().st_size
        t = time.perf_counter()
        loaded = VectorIndex.load(path, args.dim)
        load_s = time.perf_counter() - t
        del index
        rows = []
        for ef in (64, 128, 256):
            loaded._ix.expansion_search = ef
            lat, hits = [], 0
            for i, q in enumerate(queries):
                t = time.perf_counter()
                labels, _ = loaded.search(q, 10)
                lat.append(time.perf_counter() - t)
                hits += len(set(labels.tolist()) & set(truth[i].tolist()))
            rows.append((ef, np.percentile(lat, 50), np.percentile(lat, 95), hits / truth.size))
        mem = loaded.memory_bytes()

    table = Table(
        title=f"vector index, {args.n:,} x {args.dim} ({args.data}), {args.queries} queries"
    )
    for col in ("method", "p50 ms", "p95 ms", "recall@10", "speed-up p95"):
        table.add_column(col, justify="right")
    ex95 = np.percentile(exact_lat, 95)
    table.add_row(
        "exact numpy f32",
        f"{np.percentile(exact_lat, 50) * 1e3:.2f}",
        f"{ex95 * 1e3:.2f}",
        "1.000",
        "1.0x",
    )
    table.add_row(
        "exact numpy int8",
        f"{np.percentile(int8_lat, 50) * 1e3:.2f}",
        f"{np.percentile(int8_lat, 95) * 1e3:.2f}",
        f"{int8_hits / truth.size:.3f}",
        f"{ex95 / np.percentile(int8_lat, 95):.1f}x",
    )
    for ef, p50, p95, rec in rows:
        table.add_row(
            f"usearch i8 ef={ef}",
            f"{p50 * 1e3:.2f}",
            f"{p95 * 1e3:.2f}",
            f"{rec:.3f}",
            f"{ex95 / p95:.1f}x",
        )
    console.print(table)
    console.print(f"load average during the run: {os.getloadavg()} on {os.cpu_count()} cores")
    console.print(
        f"build: {build_s:.1f} s ({args.n / build_s:,.0f} vectors/s, {args.threads} threads); "
        f"save {save_s:.2f} s, load {load_s:.2f} s; file {file_bytes / args.n:.0f} B/vector, "
        f"RAM {mem / args.n:.0f} B/vector (exact f32: {4 * args.dim} B/vector)"
    )


if __name__ == "__main__":
    main()
