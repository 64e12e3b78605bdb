"""Latency of recording one command on the prompt path: Delta's LMDB store vs an SQLite WAL store.

The baseline is atuin's design: one SQLite database in WAL mode (synchronous=NORMAL, so a
commit does not fsync, like Delta's group fsync), one row per command with an index on the
timestamp and a unique id. Both sides commit every command in its own transaction, in the
same run, on the same disk, with the same commands (real ones from NL2Bash when available).
The recorder runs twice: with the secrets filter's whole rule set (built-in + gitleaks) and
with its built-in rules only, the hand-picked list it had before, so the rule set's cost shows
as a ratio in the same run.

    python benchmarks/record_latency.py [--n 5000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from delta_core.context import DeltaContext
from delta_core.memory.store import Store
from delta_core.records.record import Record
from delta_core.session.recorder import Recorder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nl2bash"


def commands(n: int) -> list[str]:
    cmds: list[str] = []
    src = DATA / "all.cm" if (DATA / "all.cm").exists() else None
    if src is None:
        for f in sorted(DATA.glob("*")):
            if f.suffix in (".cm", ".tsv", ".txt"):
                src = f
                break
    if src is not None:
        cmds = [ln.split("\t")[-1].strip() for ln in src.read_text(errors="replace").splitlines()]
        cmds = [c for c in cmds if c]
    if not cmds:
        cmds = [f"git commit -m 'change {i}'" for i in range(1000)]
    return [cmds[i % len(cmds)] for i in range(n)]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def bench_store(root: Path, cmds: list[str]) -> list[float]:
    store = Store(root)
    out = []
    for i, c in enumerate(cmds):
        rec = Record(
            c,
            time.time_ns(),
            cwd="/home/ada",
            exit=i % 3,
            duration=0.1,
            session="bench",
            host="h",
            user="u",
            shell="xonsh",
        )
        t = time.perf_counter()
        store.add(rec)
        out.append(time.perf_counter() - t)
    store.close()
    return out


def bench_recorder(root: Path, cmds: list[str], secrets_rules: str = "all") -> list[float]:
    """The recorder's path; ``secrets_rules="built-in"`` gives the secrets filter the
    hand-picked built-in rules only (what it had before gitleaks' rule set), as a baseline."""
    import os

    os.environ["DELTA_HOME"] = str(root)
    ctx = DeltaContext(root)
    if secrets_rules == "built-in":
        from delta_plugins.secret_rules import RULES as BUILTIN_RULES
        from delta_plugins.secrets import SecretScanner

        for f in ctx.filters:
            if getattr(f, "name", "") == "secrets":
                f.scanner = SecretScanner(BUILTIN_RULES)
    rec = Recorder(ctx, sync_thread=True)
    rec.finish(rec.start("warm up", "/"), 0, 0.0)
    out = []
    for i, c in enumerate(cmds):
        t = time.perf_counter()
        p = rec.start(c, "/home/ada")
        rec.finish(p, i % 3, 0.1)
        out.append(time.perf_counter() - t)
    rec.close()
    return out


def bench_sqlite(path: Path, cmds: list[str]) -> list[float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE history (id TEXT PRIMARY KEY, timestamp INTEGER NOT NULL, duration INTEGER,"
        " exit INTEGER, command TEXT NOT NULL, cwd TEXT, session TEXT, hostname TEXT,"
        " deleted_at INTEGER)"
    )
    db.execute("CREATE INDEX idx_history_timestamp ON history(timestamp)")
    db.execute("CREATE INDEX idx_history_command_timestamp ON history(command, timestamp)")
    out = []
    for i, c in enumerate(cmds):
        t = time.perf_counter()
        db.execute("BEGIN")
        db.execute(
            "INSERT OR IGNORE INTO history VALUES (?,?,?,?,?,?,?,?,NULL)",
            (f"{i:016x}", time.time_ns(), 100_000_000, i % 3, c, "/home/ada", "bench", "h:u"),
        )
        db.execute("COMMIT")
        out.append(time.perf_counter() - t)
    db.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cmds = commands(args.n)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rows = {
            "delta Store.add": bench_store(d / "store", cmds),
            "delta Recorder, secrets: built-in rules only": bench_recorder(
                d / "rec0", cmds, "built-in"
            ),
            "delta Recorder (collectors+filters+store)": bench_recorder(d / "rec", cmds),
            "sqlite WAL (atuin design)": bench_sqlite(d / "h.db", cmds),
        }
    result = {
        name: {
            "p50_ms": statistics.median(xs) * 1e3,
            "p99_ms": pct(xs, 99) * 1e3,
            "mean_ms": statistics.fmean(xs) * 1e3,
        }
        for name, xs in rows.items()
    }
    base = result["sqlite WAL (atuin design)"]
    for r in result.values():
        r["p50_ratio_vs_sqlite"] = r["p50_ms"] / base["p50_ms"]
        r["p99_ratio_vs_sqlite"] = r["p99_ms"] / base["p99_ms"]
    if args.json:
        print(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Recording one command, {args.n} commands each (budget: p99 ≤ 1 ms)")
    for col in ("store", "p50 ms", "p99 ms", "mean ms", "p50 / sqlite", "p99 / sqlite"):
        t.add_column(col, justify="right" if col != "store" else "left")
    for name, r in result.items():
        t.add_row(
            name,
            f"{r['p50_ms']:.3f}",
            f"{r['p99_ms']:.3f}",
            f"{r['mean_ms']:.3f}",
            f"{r['p50_ratio_vs_sqlite']:.2f}×",
            f"{r['p99_ratio_vs_sqlite']:.2f}×",
        )
    Console().print(t)


if __name__ == "__main__":
    main()
