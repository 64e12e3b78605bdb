"""What the history suggester reads: the history as a few fast questions, in memory or in LMDB.

The ranking code (:mod:`delta_core.suggest.rank`) asks a :class:`HistoryView` for candidates
that start with a prefix, for the commands that followed the previous one (and the previous
two), for recent commands and for feedback. Two views answer the same questions:

- :class:`IndexHistory` reads the index environment (prefix range scans, the ``successors``
  and ``successors2`` tables) and keeps the shell's own recent commands in memory: the live shell.
- :class:`MemoryHistory` holds everything in dictionaries and a sorted list, and grows one
  command at a time: ``delta eval`` replays thousands of commands through it without
  writing any of them to disk, yet ranks them with exactly the code the shell uses.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Protocol

from delta_core.memory.index import CommandStats, Index
from delta_core.plugin.protocols import RecentCommands
from delta_core.records.record import Record
from delta_core.suggest.habits import Habits

#: Distinct commands read from one prefix scan of the index: bounds a keystroke's work.
SCAN_LIMIT = 600
#: Recent distinct commands kept in memory by a live view.


class HistoryView(Protocol):
    """The questions the history ranking asks; every answer is bounded in size."""

    def prefix_stats(self, prefix: str, limit: int) -> Iterable[CommandStats]:
        """Distinct commands starting with ``prefix`` with their statistics."""
        ...

    def stats(self, command: str) -> CommandStats | None: ...

    def successors(self, previous: str, prefix: str, limit: int) -> list[tuple[str, int, int]]:
        """Commands that followed ``previous`` (and start with ``prefix``): ``(command, count,
        last_ns)``, the last time it came right after ``previous``."""
        ...

    def successors2(
        self, before: str, previous: str, prefix: str, limit: int
    ) -> list[tuple[str, int, int]]:
        """As :meth:`successors`, for commands that came right after ``before`` then
        ``previous``."""
        ...

    def recent(self, prefix: str, limit: int) -> list[str]:
        """Distinct commands starting with ``prefix``, most recently run first."""
        ...

    def feedback(self, command: str) -> tuple[int, int]:
        """How often a suggestion of ``command`` was accepted and rejected."""
        ...

    def now_ns(self) -> int: ...

    @property
    def habits(self) -> Habits | None:
        """The recent habits (:mod:`delta_core.suggest.habits`), or None while unknown."""
        ...


class MemoryHistory:
    """The whole history in memory; :meth:`add` appends one command (the eval's replay)."""

    def __init__(self) -> None:
        self._stats: dict[str, CommandStats] = {}
        self._sorted: list[str] = []
        # (previous,) or (before, previous) -> what followed: command -> [count, last ns]
        self._follows: dict[tuple[str, ...], dict[str, list[int]]] = {}
        self._before: str | None = None
        self._order: dict[str, int] = {}  # command -> position of its last use
        self._seq = 0
        self._prev: str | None = None
        self._last_ns = 0
        self._feedback: dict[str, list[int]] = {}
        self._habits = Habits()

    @property
    def habits(self) -> Habits:
        return self._habits

    def add(self, rec: Record) -> None:
        """Fold one command (in time order) into the history."""
        cmd = rec.command
        st = self._stats.get(cmd)
        if st is None:
            st = self._stats[cmd] = CommandStats(cmd)
            bisect.insort(self._sorted, cmd)
        st.add(rec)
        if self._prev is not None:
            self._count((self._prev,), cmd, rec.start_ns)
            if self._before is not None:
                self._count((self._before, self._prev), cmd, rec.start_ns)
        self._before, self._prev = self._prev, cmd
        self._seq += 1
        self._order[cmd] = self._seq
        self._last_ns = max(self._last_ns, rec.start_ns)
        self._habits.add(cmd, rec.session)

    def _count(self, context: tuple[str, ...], cmd: str, start_ns: int) -> None:
        seen = self._follows.setdefault(context, {}).setdefault(cmd, [0, 0])
        seen[0] += 1
        seen[1] = start_ns

    def _followers(self, context: tuple[str, ...], prefix: str) -> list[tuple[str, int, int]]:
        found = self._follows.get(context, {})
        return [(c, n, last) for c, (n, last) in found.items() if c.startswith(prefix)]

    def add_feedback(self, command: str, accepted: bool) -> None:
        counts = self._feedback.setdefault(command, [0, 0])
        counts[0 if accepted else 1] += 1

    def _range(self, prefix: str) -> Iterator[str]:
        i = bisect.bisect_left(self._sorted, prefix)
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            yield self._sorted[i]
            i += 1

    def extends(self, prefix: str) -> bool:
        """Whether some command in the history is longer than ``prefix`` and starts with it."""
        return any(c != prefix for c in islice(self._range(prefix), 2))

    def prefix_stats(self, prefix: str, limit: int) -> Iterable[CommandStats]:
        # In memory the whole range is cheap: no limit, so replay ranks every candidate.
        return [self._stats[c] for c in self._range(prefix)]

    def stats(self, command: str) -> CommandStats | None:
        return self._stats.get(command)

    def successors(self, previous: str, prefix: str, limit: int) -> list[tuple[str, int, int]]:
        return self._followers((previous,), prefix)

    def successors2(
        self, before: str, previous: str, prefix: str, limit: int
    ) -> list[tuple[str, int, int]]:
        return self._followers((before, previous), prefix)

    def recent(self, prefix: str, limit: int) -> list[str]:
        matches = self._range(prefix) if prefix else iter(self._sorted)
        return sorted(matches, key=self._order.__getitem__, reverse=True)[:limit]

    def feedback(self, command: str) -> tuple[int, int]:
        a, r = self._feedback.get(command, (0, 0))
        return a, r

    def now_ns(self) -> int:
        return self._last_ns


class IndexHistory:
    """The live view: the index environment, plus this shell's recent commands in memory.

    ``txn`` is a read transaction the caller opens per keystroke (LMDB readers never block
    a writer). Recent commands come from :meth:`observe` (this shell) on top of those read
    from the store once, so "most recent first" costs no disk access.

    A shell asks from several threads at once (the threaded ghost-text suggester, the
    next-command thread, tab completion), so the transaction, the index it belongs to and
    the last prefix scan belong to the asking thread. (One ``txn`` shared by all threads was
    the intermittent ``'NoneType' object has no attribute 'cursor'``: a thread that finished
    cleared the transaction another was still reading through.)
    """

    def __init__(self, index: Index, ring: RecentCommands | None = None) -> None:
        self._local = threading.local()
        self._index = index
        self.ring = ring if ring is not None else RecentCommands()
        self._now = 0
        self._habits: Habits | None = None  # known once seeded from the store

    @property
    def habits(self) -> Habits | None:
        return self._habits

    @habits.setter
    def habits(self, habits: Habits) -> None:
        self._habits = habits

    @property
    def index(self) -> Index:
        """The index this thread reads (set with its transaction), else the one given."""
        return getattr(self._local, "index", None) or self._index

    @index.setter
    def index(self, index: Index) -> None:
        self._local.index = index

    @property
    def txn(self) -> Any:
        """This thread's read transaction, per keystroke (None outside a request)."""
        return getattr(self._local, "txn", None)

    @txn.setter
    def txn(self, txn: Any) -> None:
        self._local.txn = txn

    @property
    def _scan(self) -> tuple[str | None, list[CommandStats]]:
        return getattr(self._local, "scan", (None, []))

    @_scan.setter
    def _scan(self, scan: tuple[str | None, list[CommandStats]]) -> None:
        self._local.scan = scan

    def set_now(self, now_ns: int) -> None:
        self._now = now_ns

    def prefix_stats(self, prefix: str, limit: int) -> Iterable[CommandStats]:
        out = []
        for st in self.index.iter_commands(self.txn, prefix):
            out.append(st)
            if len(out) >= limit:
                break
        self._scan = (prefix, out)
        return out

    def stats(self, command: str) -> CommandStats | None:
        return self.index.get_command(self.txn, command)

    def successors(self, previous: str, prefix: str, limit: int) -> list[tuple[str, int, int]]:
        return list(islice(self.index.successors(self.txn, previous, prefix), limit))

    def successors2(
        self, before: str, previous: str, prefix: str, limit: int
    ) -> list[tuple[str, int, int]]:
        return list(islice(self.index.successors2(self.txn, before, previous, prefix), limit))

    def recent(self, prefix: str, limit: int) -> list[str]:
        """This shell's commands first, then the scanned ones by their last use."""
        out: list[str] = []
        seen: set[str] = set()
        for rec in self.ring.newest_first():
            cmd = rec.command
            if cmd.startswith(prefix) and cmd not in seen:
                seen.add(cmd)
                out.append(cmd)
                if len(out) >= limit:
                    return out
        scanned, found = self._scan
        scan = found if scanned == prefix else self.prefix_stats(prefix, SCAN_LIMIT)
        for st in sorted(scan, key=lambda st: -st.last_ns):
            if st.command not in seen:
                out.append(st.command)
                if len(out) >= limit:
                    break
        return out

    def feedback(self, command: str) -> tuple[int, int]:
        from delta_core.memory.feedback import feedback_counts

        return feedback_counts(self.index, self.txn, command)

    def now_ns(self) -> int:
        return self._now
