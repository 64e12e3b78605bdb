"""Recording commands on the shell's prompt path.

Each command is committed before the next prompt draws; a background thread flushes the
commits to disk every ``memory.sync_interval`` seconds (the group fsync). Nothing here raises
into the shell: a failure is reported in one line and the shell carries on.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from delta_core import log
from delta_core.context import DeltaContext
from delta_core.memory.privacy import apply_filters
from delta_core.paths import DiskFull
from delta_core.records.checks import command_size_problem
from delta_core.records.record import Record, local_utc_offset_minutes


@dataclass
class Pending:
    """A command that has started: its start time and the context collected then."""

    command: str
    cwd: str
    start_ns: int
    extra: dict[str, str] = field(default_factory=dict)


def _storable(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udcff`` escapes (valid UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# Commands kept in memory while the disk is full (a full day of typing is a few hundred).
BACKLOG_MAX = 10_000


class Recorder:
    """Records a shell session's commands into the memory; never raises."""

    def __init__(
        self,
        ctx: DeltaContext | None = None,
        *,
        shell: str = "xonsh",
        session: str | None = None,
        sync_thread: bool = True,
    ) -> None:
        self._unusable = ""  # why there is no context (a bad config or folder), said once
        try:
            self.ctx = ctx or DeltaContext()
        except Exception as exc:
            self.ctx = None  # type: ignore[assignment]
            self._unusable = f"not recording: {exc}"
            sync_thread = False
        self.shell = shell
        self.session = session or uuid.uuid4().hex
        self.host = socket.gethostname()
        try:
            self.user = getpass.getuser()
        except Exception:
            self.user = str(os.getuid())
        self._stop = threading.Event()
        self._lock = threading.Lock()
        #: commands finished while the disk was full, stored once it has room again
        self._backlog: list[Record] = []
        self._thread: threading.Thread | None = None
        if sync_thread:
            self._thread = threading.Thread(target=self._sync_loop, name="delta-fsync", daemon=True)
            self._thread.start()

    def start(self, command: str, cwd: str, env: Mapping[str, str] | None = None) -> Pending:
        """Note a command as it starts and run the collectors (cheap, no subprocesses)."""
        pending = Pending(command, cwd, time.time_ns())
        if self.ctx is None:
            return pending
        env = os.environ if env is None else env
        try:
            for c in self.ctx.components.collectors.values():
                try:
                    pending.extra.update(c.collect(cwd, env))
                except Exception as exc:
                    log.problem(f"collector {c.name} failed: {exc}", self.ctx.layout.log_file)
        except Exception as exc:
            log.problem(f"collectors unavailable: {exc}", self.ctx.layout.log_file)
        return pending

    def finish(self, pending: Pending, exit: int | None, duration: float | None) -> Record | None:
        """Filter and store a finished command; return what was stored (None if nothing)."""
        if self.ctx is None:
            log.problem(self._unusable)
            return None
        try:
            if not self.ctx.recording():
                return None
            verdict = apply_filters(self.ctx.filters, pending.command, pending.cwd)
            if verdict.action == "drop" or not verdict.command.strip():
                return None
            command, cwd = verdict.command, pending.cwd
            if not (command.isascii() and cwd.isascii()):
                # xonsh keeps bytes that are not UTF-8 (a path, a pasted binary) as lone
                # surrogates, which no reader of the store could encode: keep them visible
                command, cwd = _storable(command), _storable(cwd)
            too_long = command_size_problem(command)
            if too_long:
                log.problem(f"a command was not recorded: {too_long}", self.ctx.layout.log_file)
                return None
            rec = Record(
                command=command,
                start_ns=pending.start_ns,
                cwd=cwd,
                exit=exit,
                duration=duration,
                session=self.session,
                host=self.host,
                user=self.user,
                shell=self.shell,
                utc_offset=local_utc_offset_minutes(pending.start_ns),
                extra=pending.extra,
            )
            with self._lock:
                if self._backlog:
                    self._store_backlog(rec)
                else:
                    self.ctx.store.add(rec)
            return rec
        except DiskFull as exc:
            self._disk_full(rec, exc)
            return None
        except Exception as exc:
            log.problem(
                f"could not record a command: {exc}", self.ctx.layout.log_file, fault="memory"
            )
            return None

    def _disk_full(self, rec: Record, exc: DiskFull) -> None:
        """Keep ``rec`` for later and say so once, however long the disk stays full."""
        first = not self._backlog
        if len(self._backlog) < BACKLOG_MAX:
            self._backlog.append(rec)
        if first:
            log.problem(
                f"{exc}; commands are kept in memory (up to {BACKLOG_MAX:,}) and stored when "
                "space returns",
                self.ctx.layout.log_file,
                once=False,
            )

    def _store_backlog(self, rec: Record) -> None:
        """Store the commands kept while the disk was full, then ``rec`` (caller's lock)."""
        waiting = [*self._backlog, rec]
        self.ctx.store.add_many(waiting)  # raises DiskFull while there is still no room
        self._backlog = []
        log.problem(
            f"disk space is back: stored {len(waiting) - 1:,} commands kept meanwhile",
            self.ctx.layout.log_file,
            once=False,
        )

    def _sync_loop(self) -> None:
        interval = max(0.05, float(self.ctx.config["memory.sync_interval"]))
        while not self._stop.wait(interval):
            self.flush()

    def flush(self) -> None:
        """fsync what was committed since the last flush, without holding up the prompt path."""
        if self.ctx is None:
            return
        try:
            if "store" not in self.ctx.__dict__:
                return
            with self._lock:
                dirty = self.ctx.store.take_dirty()
            if dirty:
                self.ctx.store.sync(dirty)
        except Exception as exc:
            log.problem(f"fsync failed: {exc}", self.ctx.layout.log_file, fault="memory")

    def close(self) -> None:
        """Stop the fsync thread and flush everything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.ctx is None:
            return
        try:
            with self._lock:
                if self._backlog:
                    try:
                        self.ctx.store.add_many(self._backlog)
                    except DiskFull as exc:
                        log.problem(
                            f"{exc}: {len(self._backlog):,} commands of this session could "
                            "not be stored",
                            self.ctx.layout.log_file,
                        )
                    self._backlog = []
                self.ctx.close()
        except Exception as exc:
            log.problem(
                f"closing the memory failed: {exc}", self.ctx.layout.log_file, fault="memory"
            )
