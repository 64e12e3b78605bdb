"""Keeping the memory sound: forget, prune and rewrite; verify, quarantine and reindex; disk usage.

:class:`Maintenance` is the half of :class:`~delta_core.memory.store.Store` that changes or
checks what is already stored (the store itself opens, adds, folds and iterates). These
operations take the root lock exclusively, so no writer in any process runs meanwhile, and
swap files on disk that other processes then reopen.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from delta_core import log
from delta_core.memory.index import Index
from delta_core.memory.lmdb_env import RootLock, compact_and_close, read_txn, write_txn
from delta_core.memory.roots import OpenRoot
from delta_core.paths import DiskFull, Layout, is_disk_full, private_dir
from delta_core.records import codec
from delta_core.records.record import Record

F = TypeVar("F", bound=Callable[..., Any])


def _reports_disk_full(method: F) -> F:
    """A full disk met anywhere in ``method`` is reported against the Delta root."""

    @functools.wraps(method)
    def wrapper(self: Maintenance, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (OSError, lmdb.Error) as exc:
            if is_disk_full(exc):
                raise DiskFull(self.layout.root) from None
            raise

    return wrapper  # type: ignore[return-value]


@dataclass
class VerifyReport:
    """What ``verify`` found: healthy days with their counts, and damaged ones set aside."""

    ok: dict[str, int] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    quarantined: dict[str, Path] = field(default_factory=dict)
    index_rebuilt: bool = False
    index_drift: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the index was written by an older version (rebuilt, so its new tables hold all history)
    index_outdated: bool = False
    #: days whose files cannot be read for lack of permission (not damage: nothing is moved)
    denied: dict[str, str] = field(default_factory=dict)
    #: damaged days: (intact records copied back into a fresh shard, records lost)
    salvaged: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: why the index could not be read, when it could not (it is set aside and rebuilt)
    index_damaged: str = ""
    #: entries under shards/ that are not day shards (skipped by every reader)
    not_days: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not (self.bad or self.index_drift or self.denied or self.index_damaged)


@dataclass
class SetAside:
    """A damaged day moved to the quarantine, and what salvage copied back from it."""

    dest: Path
    kept: int = 0
    lost: int = 0


class Maintenance:
    """Rewriting, checking and repairing a store (mixed into :class:`~delta_core.memory.store.Store`)."""

    # provided by the store
    layout: Layout
    _lock: RootLock
    _root: OpenRoot
    _dirty: set[str]

    @property
    def index(self) -> Index:
        raise NotImplementedError

    def days(self) -> list[str]:
        raise NotImplementedError

    def shard(self, day: str, *, create: bool, check: bool = True) -> lmdb.Environment | None:
        raise NotImplementedError

    def _shard_path(self, day: str) -> Path:
        raise NotImplementedError

    def iter_records(self) -> Iterator[Record]:
        raise NotImplementedError

    def not_days(self) -> list[str]:
        raise NotImplementedError

    def add_many(self, records: list[Record]) -> Any:
        raise NotImplementedError

    def sync(self) -> None:
        raise NotImplementedError

    # --- rewriting ----------------------------------------------------------------------
    @_reports_disk_full
    def rewrite(self, fn: Callable[[Record], Record | None]) -> tuple[int, int]:
        """Apply ``fn`` to every record: ``None`` deletes it, a changed record replaces it.

        Used by ``forget``, ``prune --filters`` and privacy re-filtering. Touched shards and
        the index are compacted afterwards so removed text leaves the files. Returns
        ``(changed, deleted)``.
        """
        changed = deleted = 0
        with self._lock.exclusive():
            for day in self.days():
                env = self.shard(day, create=False)
                if env is None:
                    continue
                c, d = write_txn(env, lambda txn: _rewrite_txn(txn, fn))
                if c or d:
                    changed += c
                    deleted += d
                    self._compact(env, self._shard_path(day))
                    if d and not _has_records(self._shard_path(day)):
                        shutil.rmtree(self._shard_path(day))
            if changed or deleted:
                self._reindex_locked()
        return changed, deleted

    def forget(self, match: Callable[[str], bool]) -> int:
        """Remove every record whose command matches, everywhere; return how many."""
        return self.rewrite(lambda r: None if match(r.command) else r)[1]

    @_reports_disk_full
    def prune_older_than(self, days: int) -> int:
        """Delete whole day shards older than ``days`` days; return the records removed."""
        cutoff = time.strftime("%Y-%m-%d", time.localtime(time.time() - days * 86400))
        removed = 0
        with self._lock.exclusive():
            for day in self.days():
                if day >= cutoff:
                    continue
                env = self.shard(day, create=False)
                if env is not None:
                    removed += env.stat()["entries"]
                self._forget_env(self._shard_path(day))
                shutil.rmtree(self._shard_path(day))
            if removed:
                self._reindex_locked()
        return removed

    # --- maintenance --------------------------------------------------------------------
    @_reports_disk_full
    def reindex(self) -> int:
        """Rebuild the derived index tables from the shards; return the records indexed."""
        with self._lock.exclusive():
            return self._reindex_locked()

    def _reindex_locked(self) -> int:
        index = self.index

        def rebuild(txn: lmdb.Transaction) -> int:
            # one transaction: a rebuild the disk has no room for leaves the old index whole
            index.clear_derived(txn)
            n = 0
            batch: list[Record] = []
            for rec in self.iter_records():
                batch.append(rec)
                if len(batch) >= 50_000:
                    index.add_records(txn, batch)
                    n += len(batch)
                    batch = []
            index.add_records(txn, batch)
            return n + len(batch)

        n = write_txn(index.env, rebuild)
        for pid, flag in self.layout.unfolded_flags().items():
            if pid == os.getpid() or not _alive(pid):
                flag.unlink(missing_ok=True)  # what those left behind is counted now
        self._compact(index.env, self.layout.index)
        self._root.index = None
        return n

    def _compact(self, env: lmdb.Environment, path: Path) -> None:
        self._dirty.discard(os.path.abspath(path))
        self._root.envs.drop(path, close=False)
        compact_and_close(env, path)
        self._lock.bump()

    @_reports_disk_full
    def verify(self, *, quarantine: bool = True, timeout: float = 300.0) -> VerifyReport:
        """Check every shard and the index in child processes; set damaged days aside (their
        intact records salvaged into a fresh shard); rebuild a damaged or drifted index.

        A file that cannot be read for lack of permission is reported, never moved.
        """
        report = VerifyReport(not_days=self.not_days())
        for day in self.days():
            state, n, why = check_isolated(self._shard_path(day), timeout=timeout)
            if state == "ok":
                report.ok[day] = n
            elif state == "denied":
                report.denied[day] = why
            else:
                report.bad[day] = why
        if (self.layout.index / "data.mdb").exists():
            state, _, why = check_isolated(self.layout.index, index=True, timeout=timeout)
            if state == "denied":
                raise PermissionError(why)
            if state != "ok":
                report.index_damaged = why
        if quarantine and (report.bad or report.index_damaged):
            with self._lock.exclusive():
                for day in report.bad:
                    aside = self._quarantine_locked(day)
                    report.quarantined[day] = aside.dest
                    report.salvaged[day] = (aside.kept, aside.lost)
                if report.index_damaged:
                    self._set_index_aside_locked()
                self._reindex_locked()
                report.index_rebuilt = True
        if not report.index_rebuilt and not report.index_damaged:
            with read_txn(self.index.env) as txn:
                indexed = self.index.day_counts(txn)
                report.index_outdated = self.index.outdated(txn)
            skip = set(report.bad) | set(report.denied)
            for day in sorted(set(indexed) | set(report.ok)):
                if indexed.get(day, 0) != report.ok.get(day, 0) and day not in skip:
                    report.index_drift[day] = (report.ok.get(day, 0), indexed.get(day, 0))
            if report.index_drift or report.index_outdated:
                self.reindex()
                report.index_rebuilt = True
        return report

    def _set_index_aside_locked(self) -> Path:
        """Move a damaged index to the quarantine (the caller rebuilds it from the shards)."""
        self._forget_env(self.layout.index)
        self._root.index = None
        dest = private_dir(self.layout.quarantine) / f"index-{time.strftime('%Y%m%dT%H%M%S')}"
        shutil.move(str(self.layout.index), dest)
        return dest

    def repair_index(self, reason: str) -> Path:
        """The index cannot be opened: set it aside, rebuild it from the shards, say so once.

        Everything in it but import origins and suggestion feedback is derived from the
        shards; those two stay in the copy set aside.
        """
        with self._lock.exclusive():
            if (self.layout.index / "data.mdb").exists():
                state, _, _ = check_isolated(self.layout.index, index=True)
                if state == "ok":  # another process rebuilt it meanwhile
                    return self.layout.index
            dest = self._set_index_aside_locked()
            n = self._reindex_locked()
        log.problem(
            f"the index was damaged ({reason}); set aside in {dest} and rebuilt from the "
            f"shards ({n:,} records)",
            self.layout.log_file,
        )
        return dest

    def quarantined(self) -> list[str]:
        """Names of the days set aside in the quarantine, oldest first."""
        q = self.layout.quarantine
        if not q.is_dir():
            return []
        return sorted(p.name for p in q.iterdir() if p.is_dir() and not p.name.startswith("index"))

    @_reports_disk_full
    def restore(self, name: str) -> tuple[int, int]:
        """Bring the quarantined day ``name`` back: its intact records are stored again
        (those already there are skipped) and the quarantined copy is removed.

        Returns ``(added, lost)``; raises ``FileNotFoundError`` for an unknown name.
        """
        src = self.layout.quarantine / name
        if not name or "/" in name or not (src / "data.mdb").is_file():
            raise FileNotFoundError(f"no quarantined day {name!r} in {self.layout.quarantine}")
        tmp = self.layout.memory / f".restore-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            kept, lost = salvage_isolated(src, tmp, _day_start_ns(name[:10]))
            if not kept:
                return 0, lost  # nothing readable: the copy stays in the quarantine
            env = lmdb.open(str(tmp), readonly=True, lock=False, subdir=True)
            try:
                with env.begin(buffers=False) as txn:
                    records = [codec.decode(v, k) for k, v in txn.cursor()]
            finally:
                env.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        added = self.add_many(records).added
        self.sync()
        shutil.rmtree(src)
        return added, lost

    def _forget_env(self, path: Path) -> None:
        """Close an environment whose directory is about to be moved or deleted."""
        self._root.envs.drop(path)
        self._dirty.discard(os.path.abspath(path))
        self._lock.bump()

    def _quarantine_locked(self, day: str) -> SetAside:
        """Move a damaged day to the quarantine and copy its intact records back into a fresh
        shard (in a child process: damaged bytes can crash the reader)."""
        self._forget_env(self._shard_path(day))
        dest = private_dir(self.layout.quarantine) / f"{day}-{time.strftime('%Y%m%dT%H%M%S')}"
        shutil.move(str(self._shard_path(day)), dest)
        aside = SetAside(dest)
        if (dest / "data.mdb").is_file() and (dest / "data.mdb").stat().st_size > 0:
            aside.kept, aside.lost = salvage_isolated(
                dest, self._shard_path(day), _day_start_ns(day)
            )
            if aside.kept == 0:
                shutil.rmtree(self._shard_path(day), ignore_errors=True)
        self._lock.bump()
        return aside

    def disk_usage(self) -> dict[str, int]:
        """Bytes on disk per area, adding up to ``total``: the memory's shards, index and
        quarantine, then every other folder of the Delta root by name (``models``,
        ``tokenizers``, ``datasets``, …) and ``other`` (its loose files: config, log)."""
        root = self.layout.root
        memory_areas = ("shards", "index", "quarantine")
        usage: dict[str, int] = dict.fromkeys(memory_areas, 0)
        if root.exists():
            for f in root.rglob("*"):
                try:
                    if not f.is_file() or f.is_symlink():
                        continue
                    blocks = f.stat().st_blocks * 512
                except OSError:  # removed while we walk
                    continue
                parts = f.relative_to(root).parts
                if parts[0] == "memory" and len(parts) > 2 and parts[1] in memory_areas:
                    area = parts[1]
                elif len(parts) > 1 and parts[0] != "memory":
                    area = parts[0]
                else:
                    area = "other"
                usage[area] = usage.get(area, 0) + blocks
        other = usage.pop("other", 0)
        usage["other"] = other
        usage["total"] = sum(usage.values())
        return usage


def _rewrite_txn(txn: lmdb.Transaction, fn) -> tuple[int, int]:
    changed = deleted = 0
    cur = txn.cursor()
    todo: list[tuple[bytes, bytes | None]] = []
    for key, value in cur:
        rec = codec.decode(value, key)
        new = fn(rec)
        if new is None:
            todo.append((key, None))
        elif new != rec:
            todo.append((key, codec.encode(new)))
    for key, value in todo:
        if value is None:
            txn.delete(key)
            deleted += 1
        else:
            txn.put(key, value)
            changed += 1
    return changed, deleted


def _has_records(path: Path) -> bool:
    env = lmdb.open(str(path), readonly=True, lock=False, subdir=True)
    try:
        return env.stat()["entries"] > 0
    finally:
        env.close()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def lost_words(lost: int) -> str:
    """How many records a salvage lost, in words (``-1``: the damage hid how many)."""
    return "an unknown number lost" if lost < 0 else f"{lost:,} lost"


def _day_start_ns(day: str) -> int | None:
    try:
        return int(time.mktime(time.strptime(day, "%Y-%m-%d")) * 1e9)
    except ValueError:
        return None


def _child(args: list[str], timeout: float) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "delta_core.memory.shard_check", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return -1, "timed out"
    return proc.returncode, proc.stdout.strip()


def check_isolated(
    path: Path, *, index: bool = False, timeout: float = 300.0
) -> tuple[str, int, str]:
    """Check one shard (or the index) in a child process, so a crash on damaged bytes is just
    a finding: ``(ok | bad | denied, records, reason)``."""
    rc, out = _child(["--index", str(path)] if index else [str(path)], timeout)
    if rc == -1:
        return "bad", 0, "check timed out"
    if rc != 0:
        return "bad", 0, f"reading it crashed the checker (exit {rc})"
    state, _, rest = out.partition(" ")
    if state == "ok":
        return "ok", int(rest), ""
    if state == "denied":
        return "denied", 0, rest
    return "bad", 0, rest.strip() or "unreadable"


def check_shard_isolated(path: Path, timeout: float = 300.0) -> tuple[bool, int, str]:
    """:func:`check_isolated` of a day shard as ``(healthy, records, reason)``."""
    state, n, why = check_isolated(path, timeout=timeout)
    return state == "ok", n, why


def salvage_isolated(
    src: Path, dest: Path, day_start_ns: int | None, timeout: float = 300.0
) -> tuple[int, int]:
    """Copy the intact records of damaged shard ``src`` into a new shard ``dest`` in a child
    process: ``(kept, lost)``; ``(0, -1)`` (lost: unknown) and no ``dest`` when even that
    crashed."""
    args = ["--salvage", str(src), str(dest)]
    if day_start_ns is not None:
        args.append(str(day_start_ns))
    rc, out = _child(args, timeout)
    parts = out.split()
    if rc == 0 and len(parts) == 4 and parts[0] == "kept":
        return int(parts[1]), int(parts[3])
    shutil.rmtree(dest, ignore_errors=True)
    return 0, -1
