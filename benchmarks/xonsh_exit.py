"""What Delta's background start costs the user at the edges of a session: the first command
typed the moment the first prompt shows, and ``exit`` typed right after, each against the same
xonsh without Delta, alternating in the same run so that machine load hits both.

* exit at once: ``exit`` typed on the first prompt, Enter to the end of the process;
* first command: from Enter on the first prompt to the next prompt (``true``; the start,
  still under way, stores it after its prompt is back);
* a first command that runs 0.3 s (``sleep 0.3``): the start is done while it runs;
* exit after it: ``exit`` typed the moment the prompt after ``true`` shows (faster than a
  person types it): the exit waits for the start to store ``true``, which is not lost.

Both used to wait for the store's set-up (issue 15); nothing should wait for it now.
Run: ``python benchmarks/xonsh_exit.py [--shells 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "xontrib"))
from xonsh_pty import Xonsh, clean_env, write_rc


def _exit(sh: Xonsh) -> float:
    t0 = time.perf_counter()
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
    took = time.perf_counter() - t0
    sh.child.close()
    return took


def one_session(base: Path, load: bool) -> tuple[float, ...]:
    rc = write_rc(base / f"rc-{load}.xsh", load=load)
    at_once = _exit(Xonsh(rc, clean_env(base / "a"), base))
    sh = Xonsh(rc, clean_env(base / "b"), base)
    t0 = time.perf_counter()
    sh.run("true")
    first = time.perf_counter() - t0
    after = _exit(sh)
    sh = Xonsh(rc, clean_env(base / "c"), base)
    t0 = time.perf_counter()
    sh.run("sleep 0.3")
    slow = time.perf_counter() - t0
    _exit(sh)
    return at_once, first, slow, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shells", type=int, default=10, help="sessions with and without Delta")
    args = parser.parse_args()
    got: dict[bool, list[tuple[float, ...]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.shells):
            for load in (False, True):
                base = Path(tmp) / f"{i}-{load}"
                base.mkdir()
                got[load].append(one_session(base, load))
    names = ("exit at once", "first command", "first sleep 0.3", "exit after it")
    for k, name in enumerate(names):
        bare = statistics.median(x[k] for x in got[False]) * 1e3
        delta = statistics.median(x[k] for x in got[True]) * 1e3
        print(
            f"{name:15} without Delta {bare:7.1f} ms   with Delta {delta:7.1f} ms   "
            f"ratio {delta / bare:5.2f}   (median of {args.shells})"
        )


if __name__ == "__main__":
    main()
