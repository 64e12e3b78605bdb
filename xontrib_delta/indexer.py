"""Keeping the search index up to date in the background, never on the prompt path.

Embedding needs torch and a sentence model, far too heavy for the shell process, so the
shell only starts a detached, low-priority ``delta search --sync`` now and then (at most
every ``search.background_interval`` seconds, and only after new commands). A lock file
makes sure that one shell's catch-up runs at a time, whatever the number of shells.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Mapping

from delta_core import log


class BackgroundIndexer:
    """Starts the search catch-up from the shell, detached, when it is due."""

    def __init__(
        self, get_env: Callable[[], Mapping[str, str]], interval: float | None = None
    ) -> None:
        self.get_env = get_env
        self.interval = interval  # read from the config on first use: loading stays cheap
        self.last_start = time.monotonic()  # the first catch-up waits one interval too
        self.pending = 0
        self.child: subprocess.Popen | None = None

    def command_recorded(self) -> None:
        self.pending += 1

    def maybe_start(self) -> bool:
        """Start a catch-up if one is due; never blocks, never raises. True if started."""
        try:
            if not self.pending:
                return False
            if self.interval is None:
                self.interval = interval_from(self.get_env())
            if self.interval <= 0:
                return False
            if self.child is not None and self.child.poll() is None:
                return False
            if time.monotonic() - self.last_start < self.interval:
                return False
            self.last_start = time.monotonic()
            # fork and exec off the prompt path
            threading.Thread(target=self._start_quietly, name="delta-indexer", daemon=True).start()
            return True
        except Exception as exc:
            log.problem(f"could not start the search index catch-up: {exc}")
            return False

    def _start_quietly(self) -> None:
        try:
            self.start()
        except Exception as exc:
            log.problem(f"could not start the search index catch-up: {exc}")

    def start(self) -> subprocess.Popen:
        env = dict(self.get_env())
        from delta_core.paths import Layout, delta_root
        from delta_core.search.background import start

        env.setdefault("OMP_NUM_THREADS", "1")  # one core for the catch-up, the rest for you
        self.child = start(Layout(delta_root(env)).root, env)
        self.last_start = time.monotonic()
        self.pending = 0
        return self.child

    def close(self) -> None:
        """Forget the child (it finishes on its own: a catch-up is safe to leave running)."""
        if self.child is not None:
            self.child.poll()
            self.child = None


def interval_from(env: Mapping[str, str]) -> float:
    """``search.background_interval`` as the shell's environment and config say."""
    try:
        from delta_core.config import Config

        return float(Config.load(None, dict(env))["search.background_interval"])
    except Exception:
        return 0.0
