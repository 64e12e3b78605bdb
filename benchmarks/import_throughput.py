"""Import throughput: commands/s from another shell's history into a real Delta store.

Generates histories of N real commands (NL2Bash one-liners and tldr examples, cycled) as a
plain bash history, a zsh extended history and Delta's JSONL, then imports each the way
``delta memory import`` does (``import_path``: importer → privacy filters → store on LMDB) into
a fresh ``DELTA_HOME``, once in one process and once in two (a worker parses, filters and
encodes; the other stores). In the same run it measures two baselines on the same commands:

* ``readlines``: reading and splitting the file and decoding every line, nothing else;
* ``sqlite``: inserting the same commands into one SQLite table in one transaction
  (atuin's kind of store), the cost of "just putting rows somewhere".

It also times each importer alone (parsing only) so the store's share is visible.

    python benchmarks/import_throughput.py [--n 1000000] [--per-day 1000] [--no-filters]

With filters, bash is imported twice: the secrets filter with its built-in (hand-picked) rules
only (``filters = built-in``) and with the whole set, built-in + gitleaks (``all``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from delta_core.context import DeltaContext
from delta_core.imports.parallel import import_path
from delta_core.plugin.manager import Components, make_plugin_manager

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BUDGET = 100_000  # commands/s, DESIGN.md
START = 1_600_000_000  # first command's epoch seconds


def real_commands() -> list[str]:
    """Real one-line commands: NL2Bash (MIT) and tldr examples (CC BY 4.0)."""
    cmds = [c for c in (DATA / "nl2bash" / "all.cm").read_text().splitlines() if c.strip()]
    with open(DATA / "tldr" / "examples_common_linux.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            c = row["example_command"]
            if c.strip() and "\n" not in c:
                cmds.append(c)
    # a bash plain history cannot hold a line that looks like a timestamp
    return [c for c in cmds if not (c[:1] == "#" and c[1:2].isdigit())]


def cycled(cmds: list[str], n: int) -> list[str]:
    return [cmds[i % len(cmds)] for i in range(n)]


def zsh_body(cmd: str) -> str:
    """A command as zsh writes it: newlines escaped, a space after a final backslash."""
    body = cmd.replace("\n", "\\\n")
    return body + " " if body.rstrip(" ").endswith("\\") else body


def write_histories(out: Path, cmds: list[str], per_day: int) -> dict[str, Path]:
    step = max(1, 86_400 // per_day)
    paths = {"bash": out / "bash_history", "zsh": out / "zsh_history", "jsonl": out / "h.jsonl"}
    paths["bash"].write_text("".join(c + "\n" for c in cmds))
    zsh = "".join(
        f": {START + i * step}:{i % 7};{zsh_body(c)}\n" for i, c in enumerate(cmds)
    ).encode()
    # zsh metafies bytes 0x83-0xA2 (and NUL) as 0x83, byte ^ 0x20, as a real file has them
    paths["zsh"].write_bytes(re.sub(rb"[\x83-\xa2]", lambda m: bytes((0x83, m[0][0] ^ 32)), zsh))
    with open(paths["jsonl"], "w") as f:
        for i, c in enumerate(cmds):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(START + i * step))
            obj = {"command": c, "timestamp": ts, "exit": i % 3, "cwd": "/home/u"}
            f.write(json.dumps(obj) + "\n")
    return paths


class Clock:
    """Wall and CPU seconds of a block: on a shared machine the CPU time is the steadier."""

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0

    def rates(self, n: int) -> tuple[float, float]:
        return n / self.wall, n / self.cpu


def baseline_readlines(path: Path) -> tuple[float, float]:
    n = 0
    with Clock() as clock, open(path, "rb") as f:
        for line in f.readlines():
            if line.decode("utf-8").strip():
                n += 1
    return clock.rates(n)


def baseline_sqlite(cmds: list[str], tmp: Path) -> tuple[float, float]:
    db = tmp / "baseline.sqlite"
    with Clock() as clock:
        _sqlite_inserts(db, cmds)
    return clock.rates(len(cmds))


def _sqlite_inserts(db: Path, cmds: list[str]) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE h (id INTEGER PRIMARY KEY, ts INTEGER, command TEXT)")
    conn.execute("CREATE INDEX h_ts ON h(ts)")
    with conn:
        conn.executemany(
            "INSERT INTO h (ts, command) VALUES (?, ?)",
            ((START * 10**9 + i, c) for i, c in enumerate(cmds)),
        )
    conn.close()


def parse_only(importer, path: Path) -> float:
    """CPU rate of the importer alone (records produced, nothing stored)."""
    with Clock() as clock:
        n = sum(1 for item in importer.read(path) if hasattr(item, "command"))
    return clock.rates(n)[1]


def pipeline(
    fmt: str, path: Path, filters: bool | str, parallel: bool, progress: Progress, label: str
):
    """``(wall rate, cpu rate, records added)`` of ``delta memory import``'s path, fresh store.

    The CPU rate counts this process and the reader process it starts (when ``parallel``).
    """
    with tempfile.TemporaryDirectory(prefix="delta-bench-") as home:
        env = {**os.environ, "DELTA_HOME": home, "DELTA_PLUGINS": ""}
        if not filters:
            # every filter installed, not a list that a new filter plugin would slip past
            every = Components.from_manager(make_plugin_manager(env)).privacy_filters
            env["DELTA_FILTERS_DISABLED"] = ",".join(every)
        elif filters == "built-in":  # the secrets filter with its hand-picked rules only
            env["DELTA_FILTERS_SECRETS_RULES"] = "built-in"
        ctx = DeltaContext(home, env)
        task = progress.add_task(label, total=None)
        children = os.times()
        with Clock() as clock:
            summary = import_path(
                ctx, fmt, path, parallel=parallel, progress=lambda k: progress.advance(task, k)
            )
            ctx.close()
        after = os.times()
        progress.remove_task(task)
        assert not summary.problems, summary.problems[:3]
        child_cpu = (after.children_user + after.children_system) - (
            children.children_user + children.children_system
        )
        return summary.read / clock.wall, summary.read / (clock.cpu + child_cpu), summary.added


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="commands per history")
    ap.add_argument("--per-day", type=int, default=1000, help="commands per day (zsh, jsonl)")
    ap.add_argument("--no-filters", action="store_true", help="skip the run with filters")
    ap.add_argument("--formats", default="bash,zsh,jsonl")
    args = ap.parse_args()
    console = Console()
    comps = Components.from_manager(make_plugin_manager({**os.environ, "DELTA_PLUGINS": ""}))
    cmds = cycled(real_commands(), args.n)
    formats = args.formats.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="delta-bench-src-") as tmp_s:
        tmp = Path(tmp_s)
        console.print(f"writing {args.n:,} commands per format …")
        paths = write_histories(tmp, cmds, args.per_day)
        base_read = baseline_readlines(paths["bash"])
        base_sql = baseline_sqlite(cmds, tmp)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        runs = [(fmt, False) for fmt in formats]
        if not args.no_filters:
            # the secrets filter's built-in rules only, then all (built-in + gitleaks): the
            # rule set's cost as a ratio in the same run
            runs += [("bash", "built-in"), ("bash", True)]
        with progress:
            for fmt, filters in runs:
                parse = parse_only(comps.importers[fmt], paths[fmt])
                for parallel in (False, True):
                    how = "two processes" if parallel else "one process"
                    kind = "none" if not filters else "built-in" if filters == "built-in" else "all"
                    label = f"{fmt}+filters({kind}), {how}"
                    wall, cpu, added = pipeline(fmt, paths[fmt], filters, parallel, progress, label)
                    rows.append((fmt, kind, how, parse, wall, cpu, added))
    table = Table(title=f"import throughput, {args.n:,} commands, {os.cpu_count()} CPUs")
    cols = ["format", "filters", "import", "parse cpu/s", "wall/s", "cpu/s", "added"]
    cols += ["cpu ÷ readlines", "cpu ÷ sqlite", "wall ÷ budget", "cpu ÷ budget"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("format", "filters", "import") else "right")
    for fmt, filt, how, parse, wall, cpu, added in rows:
        table.add_row(
            fmt,
            filt,
            how,
            f"{parse:,.0f}",
            f"{wall:,.0f}",
            f"{cpu:,.0f}",
            f"{added:,}",
            f"{cpu / base_read[1]:.3f}",
            f"{cpu / base_sql[1]:.2f}",
            f"{wall / BUDGET:.2f}",
            f"{cpu / BUDGET:.2f}",
        )
    console.print(table)
    console.print(
        f"baselines (same run, wall / cpu): readlines+decode {base_read[0]:,.0f} / "
        f"{base_read[1]:,.0f} per s; sqlite executemany {base_sql[0]:,.0f} / "
        f"{base_sql[1]:,.0f} per s; budget {BUDGET:,}/s; load average "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
