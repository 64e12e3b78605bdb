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

# Timing, in the rc: Delta's load, then wrappers around the recorder's two handlers (patched on
# the class after loading, so the import is timed cold).
TIMED_RC = """
import time as _time, json as _json
# Delta's own part, timed directly: the import and _load_xontrib_.
_t0 = _time.perf_counter_ns()
import xontrib.delta as _xd
_xd._load_xontrib_(__xonsh__)
_t1 = _time.perf_counter_ns()
# The line a user writes. Delta is loaded already, so this times xonsh's own `xontrib`
# command (argument parser, entry-point scan, lookup), which any xontrib pays.
xontrib load delta
_t2 = _time.perf_counter_ns()
_delta_own_ns, _delta_cmd_ns = _t1 - _t0, _t2 - _t1
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
"""

BASE_RC = """
import time as _time
_delta_own_ns = _delta_cmd_ns = 0
"""

# The same `xontrib load` line with xonsh's own smallest xontrib: what the command itself costs.
OTHER_RC = BASE_RC + "xontrib load coreutils\n"
RCS = {"plain": BASE_RC, "coreutils": OTHER_RC, "delta": TIMED_RC}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def start_once(base: Path, variant: str) -> tuple[float, float, float]:
    """Start to prompt, Delta's import + load, and xonsh's `xontrib load` command (ms)."""
    env = clean_env(base)
    rc = write_rc(base / "rc.xsh", load=False, extra=RCS[variant])
    sh = Xonsh(rc, env, base)
    out = sh.run("print('LOADNS', _delta_own_ns, _delta_cmd_ns)").split("LOADNS")[-1]
    own_ns, cmd_ns = (float(v) for v in out.split()[:2])
    sh.exit()
    return sh.startup_s * 1000, own_ns / 1e6, cmd_ns / 1e6


def commands(base: Path, n: int) -> tuple[list[float], list[float], list[float]]:
    """Round trips (ms) without and with Delta, and Delta's handler time per command (ms).

    Both shells run side by side and take turns, so that load from elsewhere on the machine
    hits both alike.
    """
    shells = {}
    for name, rc_text in (("plain", BASE_RC), ("delta", TIMED_RC)):
        d = base / name
        d.mkdir(parents=True)
        shells[name] = Xonsh(write_rc(d / "rc.xsh", load=False, extra=rc_text), clean_env(d), d)
    for i in range(10):  # warm up: the background start, first shard, caches
        for sh in shells.values():
            sh.run(f"_w = {i}")
    shells["delta"].run("_delta_times.clear()")
    trips: dict[str, list[float]] = {"plain": [], "delta": []}
    for i in range(n):
        for name in ("plain", "delta") if i % 2 else ("delta", "plain"):
            t = time.perf_counter()
            shells[name].run(f"_v = {i}")
            trips[name].append((time.perf_counter() - t) * 1000)
    out = shells["delta"].run("print('TIMES', _json.dumps(_delta_times[:-1]))")
    pairs = json.loads(out.split("TIMES", 2)[-1].strip().splitlines()[0])
    pre = [ns for name, ns in pairs if name == "on_precommand"]
    post = [ns for name, ns in pairs if name == "on_postcommand"]
    handler_ms = [(a + b) / 1e6 for a, b in zip(pre, post, strict=False)]
    for sh in shells.values():
        sh.exit()
    return trips["plain"], trips["delta"], handler_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starts", type=int, default=10, help="shell starts per variant")
    ap.add_argument("--commands", type=int, default=200, help="commands per variant")
    args = ap.parse_args()
    console = Console()
    starts: dict[str, list[tuple[float, float, float]]] = {v: [] for v in RCS}
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        task = progress.add_task("shell starts", total=len(RCS) * args.starts)
        order = list(RCS)
        for i in range(args.starts):
            for variant in order[i % 3 :] + order[: i % 3]:  # rotate which goes first
                d = Path(tmp) / f"s{i}{variant}"
                d.mkdir()
                starts[variant].append(start_once(d, variant))
                progress.advance(task)
        progress.add_task("commands (two shells taking turns)", total=None)
        trips_base, trips_delta, handler = commands(Path(tmp) / "cmds", args.commands)

    base_start = [s for s, _, _ in starts["plain"]]
    other_start = [s for s, _, _ in starts["coreutils"]]
    delta_start = [s for s, _, _ in starts["delta"]]
    own = [o for _, o, _ in starts["delta"]]
    command = [c for _, _, c in starts["delta"]]
    table = Table(title="xontrib delta in a real interactive xonsh (pty)")
    for col in ("measure", "without", "with delta", "added", "ratio", "budget"):
        table.add_column(col, justify="right" if col != "measure" else "left")
    mb, md = statistics.median(base_start), statistics.median(delta_start)
    mo = statistics.median(other_start)
    table.add_row(
        f"start to first prompt, median of {args.starts} (ms)",
        f"{mb:.0f}",
        f"{md:.0f}",
        f"{md - mb:+.0f}",
        f"{md / mb:.3f}",
        "",
    )
    table.add_row(
        "  same, baseline = xonsh + `xontrib load coreutils`",
        f"{mo:.0f}",
        f"{md:.0f}",
        f"{md - mo:+.0f}",
        f"{md / mo:.3f}",
        "≤ +50 ms",
    )
    table.add_row(
        "Delta's import + _load_xontrib_, median (ms)",
        "—",
        f"{statistics.median(own):.1f}",
        f"{statistics.median(own):+.1f}",
        "",
        "≤ 50 ms",
    )
    table.add_row(
        "xonsh's own `xontrib load` command, median (ms)",
        "—",
        f"{statistics.median(command):.1f}",
        "",
        "",
        "any xontrib",
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
    console.print(
        "start-up spread (min/median/max ms): "
        + ", ".join(
            f"{v} {min(x):.0f}/{statistics.median(x):.0f}/{max(x):.0f}"
            for v, x in (("plain", base_start), ("coreutils", other_start), ("delta", delta_start))
        )
    )


if __name__ == "__main__":
    main()
