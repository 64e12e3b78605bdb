"""`delta memory stats` over 1M records vs the same statistics as SQL over an SQLite store.

Both stores hold the same 1M commands (NL2Bash commands, spread over a year with realistic
exits); the baseline answers total, unique, per-day, per-hour, top-10 and success rate with
SQL queries, like atuin's `stats`. Also prints the import throughput of the 1M records.

    python benchmarks/stats_1m.py [--n 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from delta_core.memory.stats import compute_stats
from delta_core.memory.store import Store
from delta_core.records.record import Record

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nl2bash" / "all.cm"


def make_records(n: int) -> list[Record]:
    cmds = [c.strip() for c in DATA.read_text(errors="replace").splitlines() if c.strip()]
    rng = random.Random(0)
    start = 1_733_000_000_000_000_000
    step = 365 * 86_400_000_000_000 // n
    hot = cmds[:300]
    out = []
    for i in range(n):
        cmd = rng.choice(hot) if rng.random() < 0.6 else rng.choice(cmds)
        out.append(
            Record(
                cmd,
                start + i * step,
                cwd="/home/ada",
                exit=0 if rng.random() < 0.9 else 1,
                session=f"s{i // 200}",
                host="h",
                user="u",
                shell="xonsh",
            )
        )
    return out


def sqlite_stats(db: sqlite3.Connection) -> dict:
    q = db.execute
    return {
        "total": q("SELECT count(*) FROM history").fetchone()[0],
        "unique": q("SELECT count(DISTINCT command) FROM history").fetchone()[0],
        "per_day": q(
            "SELECT date(timestamp/1000000000,'unixepoch') d, count(*) FROM history GROUP BY d"
        ).fetchall(),
        "per_hour": q(
            "SELECT (timestamp/3600000000000)%24 h, count(*) FROM history GROUP BY h"
        ).fetchall(),
        "top": q(
            "SELECT command, count(*) c FROM history GROUP BY command ORDER BY c DESC LIMIT 10"
        ).fetchall(),
        "success": q("SELECT avg(exit = 0) FROM history WHERE exit IS NOT NULL").fetchone()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    recs = make_records(args.n)
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "delta")
        t = time.perf_counter()
        for i in range(0, len(recs), 50_000):
            store.add_many(recs[i : i + 50_000])
        store.sync()
        t_store = time.perf_counter() - t

        db = sqlite3.connect(Path(d) / "h.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE history (id TEXT PRIMARY KEY, timestamp INTEGER, exit INTEGER,"
            " command TEXT, cwd TEXT, session TEXT)"
        )
        db.execute("CREATE INDEX ts ON history(timestamp)")
        t = time.perf_counter()
        with db:
            db.executemany(
                "INSERT INTO history VALUES (?,?,?,?,?,?)",
                ((r.ensure_id(), r.start_ns, r.exit, r.command, r.cwd, r.session) for r in recs),
            )
        t_sqlite = time.perf_counter() - t

        t = time.perf_counter()
        ours = compute_stats(store, "all")
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        theirs = sqlite_stats(db)
        t_theirs = time.perf_counter() - t
        assert ours.total == theirs["total"] and ours.unique == theirs["unique"]
        store.close()
    res = {
        "records": args.n,
        "stats_s": t_ours,
        "sqlite_stats_s": t_theirs,
        "stats_ratio_vs_sqlite": t_ours / t_theirs,
        "store_write_per_s": args.n / t_store,
        "sqlite_write_per_s": args.n / t_sqlite,
    }
    if args.json:
        print(json.dumps(res))
        return
    from rich.console import Console
    from rich.table import Table

    tb = Table(title=f"{args.n:,} records")
    tb.add_column("what")
    tb.add_column("delta", justify="right")
    tb.add_column("sqlite", justify="right")
    tb.add_column("delta / sqlite", justify="right")
    tb.add_row("stats (s)", f"{t_ours:.2f}", f"{t_theirs:.2f}", f"{t_ours / t_theirs:.2f}×")
    tb.add_row(
        "bulk write (records/s)",
        f"{args.n / t_store:,.0f}",
        f"{args.n / t_sqlite:,.0f}",
        f"{t_sqlite / t_store:.2f}×",
    )
    Console().print(tb)


if __name__ == "__main__":
    main()
