"""What `xontrib load delta` costs a real interactive xonsh, against the same xonsh without it.

Measured in the same run, alternating with and without Delta so that machine load hits both:

* start-up: spawn to first prompt in a pty (the whole shell start), and the time of the
  ``xontrib load delta`` line itself, timed inside the rc file;
* per command: round trip (type a line, wait for the next prompt) over N commands;
* recording on the prompt path: the time spent in Delta's on_precommand + on_postcommand
  handlers per command (collectors, privacy filters, LMDB commit), timed inside the shell.

Budgets (DESIGN.md): load adds ≤ 50 ms to start-up; recording p99 ≤ 1 ms.
Run: ``python benchmarks/xonsh_overhead.py [--starts 10] [--commands 200]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "xontrib"))
from xonsh_pty import Xonsh, clean_env, write_rc

# Timing hooks, installed by the rc before `xontrib load delta`: they wrap the recorder's
# two handlers and time the load line, and print their figures on request.
TIMED_RC = """
import time as _time, json as _json
import xontrib_delta.session as _s
_delta_times = []
def _timed(fn):
    def wrapper(self, *a, **kw):
        t = _time.perf_counter_ns()
        try:
            return fn(self, *a, **kw)
        finally:
            _delta_times.append((fn.__name__, _time.perf_counter_ns() - t))
    return wrapper
_s.ShellRecorder.on_precommand = _timed(_s.ShellRecorder.on_precommand)
_s.ShellRecorder.on_postcommand = _timed(_s.ShellRecorder.on_postcommand)
_t0 = _time.perf_counter_ns()
xontrib load delta
_delta_load_ns = _time.perf_counter_ns() - _t0
"""

BASE_RC = """
import time as _time
_t0 = _time.perf_counter_ns()
_delta_load_ns = _time.perf_counter_ns() - _t0
"""


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def start_once(base: Path, with_delta: bool) -> tuple[float, float]:
    env = clean_env(base)
    rc = write_rc(base / "rc.xsh", load=False, extra=TIMED_RC if with_delta else BASE_RC)
    sh = Xonsh(rc, env, base)
    load_ns = float(sh.run("print('LOADNS', _delta_load_ns)").split("LOADNS")[-1].split()[0])
    sh.exit()
    return sh.startup_s * 1000, load_ns / 1e6


def commands(base: Path, with_delta: bool, n: int) -> tuple[list[float], list[float]]:
    """Round trips (ms) and, with Delta, per-command handler time (ms, pre + post)."""
    env = clean_env(base)
    rc = write_rc(base / "rc.xsh", load=False, extra=TIMED_RC if with_delta else BASE_RC)
    sh = Xonsh(rc, env, base)
    for i in range(10):  # warm up: the background start, first shard, caches
        sh.run(f"_w = {i}")
    if with_delta:
        sh.run("_delta_times.clear()")
    trips = []
    for i in range(n):
        t = time.perf_counter()
        sh.run(f"_v = {i}")
        trips.append((time.perf_counter() - t) * 1000)
    handler_ms: list[float] = []
    if with_delta:
        out = sh.run("print('TIMES', _json.dumps(_delta_times[:-1]))")
        pairs = json.loads(out.split("TIMES", 2)[-1].strip().splitlines()[0])
        pre = [ns for name, ns in pairs if name == "on_precommand"]
        post = [ns for name, ns in pairs if name == "on_postcommand"]
        handler_ms = [(a + b) / 1e6 for a, b in zip(pre, post, strict=False)]
    sh.exit()
    return trips, handler_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starts", type=int, default=10, help="shell starts per variant")
    ap.add_argument("--commands", type=int, default=200, help="commands per variant")
    args = ap.parse_args()
    console = Console()
    starts: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        task = progress.add_task("shell starts", total=2 * args.starts)
        for i in range(args.starts):
            for with_delta in (i % 2 == 0, i % 2 != 0):  # alternate which goes first
                d = Path(tmp) / f"s{i}{int(with_delta)}"
                d.mkdir()
                starts[with_delta].append(start_once(d, with_delta))
                progress.advance(task)
        task = progress.add_task("commands", total=2)
        trips_base, _ = commands(Path(tmp) / "cbase", False, args.commands)
        progress.advance(task)
        trips_delta, handler = commands(Path(tmp) / "cdelta", True, args.commands)
        progress.advance(task)

    base_start = [s for s, _ in starts[False]]
    delta_start = [s for s, _ in starts[True]]
    load_line = [ld for _, ld in starts[True]]
    table = Table(title="xontrib delta in a real interactive xonsh (pty)")
    for col in ("measure", "without", "with delta", "added", "ratio", "budget"):
        table.add_column(col, justify="right" if col != "measure" else "left")
    mb, md = statistics.median(base_start), statistics.median(delta_start)
    table.add_row(
        f"start to first prompt, median of {args.starts} (ms)",
        f"{mb:.0f}",
        f"{md:.0f}",
        f"{md - mb:+.0f}",
        f"{md / mb:.3f}",
        "≤ +50 ms",
    )
    table.add_row(
        "`xontrib load delta` line, median (ms)",
        "—",
        f"{statistics.median(load_line):.1f}",
        f"{statistics.median(load_line):+.1f}",
        "",
        "≤ 50 ms",
    )
    for p in (50, 99):
        b, d = pct(trips_base, p), pct(trips_delta, p)
        table.add_row(
            f"command round trip p{p}, {args.commands} cmds (ms)",
            f"{b:.2f}",
            f"{d:.2f}",
            f"{d - b:+.2f}",
            f"{d / b:.3f}",
            "",
        )
    if handler:
        for p in (50, 99):
            table.add_row(
                f"recording (pre+post handlers) p{p} (ms)",
                "—",
                f"{pct(handler, p):.3f}",
                f"{pct(handler, p):+.3f}",
                "",
                "p99 ≤ 1 ms" if p == 99 else "",
            )
    console.print(table)


if __name__ == "__main__":
    main()
