"""Finding, starting and stopping the server from a shell or the CLI (no torch here).

:func:`start_detached` forks ``python -m delta_core.serve`` into its own session (no
terminal, stdio to ``/dev/null``, problems to Delta's log) and returns at once: a shell
never waits for the model to load. Starts are rate-limited so a server that cannot start
(no model promoted) is not respawned on every keystroke; a server that was running and died
(its ``serve.pid`` names a process that is gone) is restarted at once, by one shell.

A socket that is not the user's own (:class:`~delta_core.serve.protocol.UntrustedServer`)
is never used: one line says so and the shell goes on with history suggestions.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from delta_core import log
from delta_core.paths import Layout
from delta_core.serve.protocol import Client, UntrustedServer, socket_path

#: Seconds between two start attempts from one process.
RETRY_S = 30.0
_last_start: dict[str, float] = {}


def connect(layout: Layout, timeout: float = 0.5) -> Client | None:
    """A client of the running server, or None when none answers."""
    path = socket_path(layout)
    if not path.exists():
        return None
    try:
        return Client(path, timeout=timeout)
    except UntrustedServer as exc:
        log.problem(f"not using the delta server: {exc}", layout.log_file)
        return None
    except OSError:
        return None


def pid_file(layout: Layout) -> Path:
    """Where a running server notes its process id."""
    return layout.root / "serve.pid"


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not: a server this shell started and
    that was killed stays one until reaped, so it is reaped here when it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass  # no /proc: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # another user's process with that number: it runs
    return True


def claim_dead_server(layout: Layout) -> int | None:
    """The pid of a server that was running and died (its ``serve.pid`` left behind), or None.

    The stale file is taken away in one rename, so of several shells noticing the same
    death only one gets the pid (and restarts the server).
    """
    path = pid_file(layout)
    try:
        pid = int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid() or _running(pid):
        return None
    claimed = path.with_name(f"{path.name}.{os.getpid()}.dead")
    try:
        os.rename(path, claimed)
    except OSError:
        return None  # another shell claimed it first
    claimed.unlink(missing_ok=True)
    return pid


def status(layout: Layout, timeout: float = 2.0) -> dict[str, Any] | None:
    client = connect(layout)
    if client is None:
        return None
    try:
        return client.call({"op": "status"}, timeout)
    except (OSError, ValueError):
        return None
    finally:
        client.close()


def start_detached(
    layout: Layout, args: list[str] | None = None, force: bool = False
) -> subprocess.Popen | None:
    """Start a server for ``layout`` in the background; return its process (true), or None
    when one was started lately."""
    key = str(layout.root)
    now = time.monotonic()
    if not force and now - _last_start.get(key, -RETRY_S) < RETRY_S:
        return None
    _last_start[key] = now
    env = {**os.environ, "DELTA_HOME": str(layout.root)}
    return subprocess.Popen(
        [sys.executable, "-m", "delta_core.serve", *(args or [])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        env=env,
    )


def stop(layout: Layout, timeout: float = 5.0) -> bool:
    """Ask the server to shut down and wait until its socket is gone; False if none ran."""
    client = connect(layout)
    if client is None:
        return False
    try:
        client.call({"op": "stop"}, timeout)
    except (OSError, ValueError):
        pass
    finally:
        client.close()
    deadline = time.monotonic() + timeout
    while socket_path(layout).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
