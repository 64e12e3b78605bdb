"""History suggestion latency per keystroke on a large memory (budget: p99 <= 5 ms at 1M records).

Builds a store of N synthetic records (Zipf-distributed programs and arguments, sessions of
~50 commands) in a temporary DELTA_HOME, then types sampled commands key by key through the
``history`` suggester (prefix scans + the successors of the previous command and of the
previous two + context ranking, one read transaction per keystroke, as the shell does). The baseline, measured in the same run, is the naive way:
a linear scan of every distinct command in the index, keeping those with the prefix and the
most used one.

Usage: python benchmarks/suggest_latency.py [--records 1000000] [--queries 3000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

from delta_core.context import DeltaContext
from delta_core.memory.lmdb_env import read_txn
from delta_core.plugin.protocols import RecentCommands, SuggestQuery
from delta_core.records.record import Record

PROGRAMS = [
    "git",
    "ls",
    "cd",
    "make",
    "vim",
    "python",
    "docker",
    "kubectl",
    "grep",
    "cat",
    "ssh",
    "cargo",
    "npm",
    "pytest",
    "rg",
    "find",
    "tar",
    "curl",
    "systemctl",
    "less",
]
SUBS = [
    "status",
    "add",
    "commit -m",
    "push",
    "pull",
    "log --oneline",
    "diff",
    "checkout",
    "run",
    "build",
    "test",
    "ps",
    "exec -it",
    "get pods",
    "logs -f",
    "install",
    "-la",
    "-R",
]


def synth(n: int, rng: random.Random) -> list[Record]:
    words = [f"w{i}" for i in range(40_000)]
    base = 1_700_000_000_000_000_000
    out = []
    for i in range(n):
        p = PROGRAMS[min(int(rng.paretovariate(1.2)) - 1, len(PROGRAMS) - 1)]
        s = SUBS[min(int(rng.paretovariate(1.1)) - 1, len(SUBS) - 1)]
        arg = words[min(int(rng.paretovariate(0.7)), len(words) - 1)]
        cmd = f"{p} {s} {arg}" if rng.random() < 0.8 else f"{p} {s}"
        out.append(
            Record(
                cmd,
                base + i * 2_000_000_000,
                cwd=f"/home/u/p{i % 13}",
                exit=0,
                session=f"s{i // 50}",
                host="h",
                user="u",
                shell="xonsh",
            )
        )
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--naive-queries", type=int, default=60)
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = DeltaContext(tmp, env={"DELTA_PLUGINS": ""})
        t0 = time.perf_counter()
        recs = synth(args.records, rng)
        for i in range(0, len(recs), 100_000):
            ctx.store.add_many(recs[i : i + 100_000])
        build_s = time.perf_counter() - t0
        index = ctx.store.index
        with read_txn(index.env) as txn:
            distinct = txn.stat(index.db[b"commands"])["entries"]
        print(
            f"store: {args.records:,} records, {distinct:,} distinct commands "
            f"(built in {build_s:.0f} s)"
        )
        hist = ctx.components.suggesters["history"]
        hist.attach(ctx, RecentCommands())
        t0 = time.perf_counter()
        hist.wait_seeded(120)  # the recent habits, read in the background at attach
        print(f"recent habits read in {time.perf_counter() - t0:.2f} s")
        at = [rng.randrange(len(recs)) for _ in range(args.queries)]
        prefixes = [(recs[i].command[: rng.randrange(0, len(recs[i].command))], i) for i in at]
        lat = []
        for prefix, i in prefixes:
            # the two commands before it, as the shell passes its last commands
            previous = tuple(r.command for r in recs[max(0, i - 2) : i])
            q = SuggestQuery(prefix, recs[i].cwd, previous, limit=5)
            t1 = time.perf_counter()
            hist.suggest(q)
            lat.append(time.perf_counter() - t1)
        naive = []
        for prefix, _ in prefixes[: args.naive_queries]:
            t1 = time.perf_counter()
            with read_txn(index.env) as txn:
                best = None
                for st in index.iter_commands(txn, ""):
                    if st.command.startswith(prefix) and (best is None or st.count > best.count):
                        best = st
            naive.append(time.perf_counter() - t1)
        ctx.close()
    print(
        f"delta history suggester: p50 {pct(lat, 0.5):.3f} ms  p99 {pct(lat, 0.99):.3f} ms  "
        f"mean {statistics.mean(lat) * 1000:.3f} ms  ({len(lat)} keystrokes)"
    )
    print(
        f"naive linear scan:       p50 {pct(naive, 0.5):.3f} ms  p99 {pct(naive, 0.99):.3f} ms  "
        f"({len(naive)} keystrokes)"
    )
    print(
        f"speed-up at p50: {pct(naive, 0.5) / pct(lat, 0.5):.0f}x; budget p99 <= 5 ms: "
        f"{'met' if pct(lat, 0.99) <= 5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
