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

    @property
    def healthy(self) -> bool:
        return not self.bad and not self.index_drift


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
        self.layout.unfolded_flag.unlink(missing_ok=True)
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
        """Check every shard in a child process; set damaged ones aside; repair the index."""
        report = VerifyReport()
        for day in self.days():
            ok, n, why = check_shard_isolated(self._shard_path(day), timeout)
            if ok:
                report.ok[day] = n
            else:
                report.bad[day] = why
        if report.bad and quarantine:
            with self._lock.exclusive():
                for day in report.bad:
                    report.quarantined[day] = self._quarantine_locked(day)
                self._reindex_locked()
                report.index_rebuilt = True
        if not report.index_rebuilt:
            with read_txn(self.index.env) as txn:
                indexed = self.index.day_counts(txn)
                report.index_outdated = self.index.outdated(txn)
            for day in sorted(set(indexed) | set(report.ok)):
                if indexed.get(day, 0) != report.ok.get(day, 0) and day not in report.bad:
                    report.index_drift[day] = (report.ok.get(day, 0), indexed.get(day, 0))
            if report.index_drift or report.index_outdated:
                self.reindex()
                report.index_rebuilt = True
        return report

    def _forget_env(self, path: Path) -> None:
        """Close an environment whose directory is about to be moved or deleted."""
        self._root.envs.drop(path)
        self._dirty.discard(os.path.abspath(path))
        self._lock.bump()

    def _quarantine_locked(self, day: str) -> Path:
        self._forget_env(self._shard_path(day))
        dest = private_dir(self.layout.quarantine) / f"{day}-{time.strftime('%Y%m%dT%H%M%S')}"
        shutil.move(str(self._shard_path(day)), dest)
        return dest

    def disk_usage(self) -> dict[str, int]:
        """Bytes on disk per area (shards, index, quarantine, other)."""

        def size(p: Path) -> int:
            if not p.exists():
                return 0
            return sum(f.stat().st_blocks * 512 for f in p.rglob("*") if f.is_file())

        return {
            "shards": size(self.layout.shards),
            "index": size(self.layout.index),
            "quarantine": size(self.layout.quarantine),
            "total": size(self.layout.root),
        }


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


def check_shard_isolated(path: Path, timeout: float = 300.0) -> tuple[bool, int, str]:
    """Check one shard in a child process, so a crash on damaged bytes is just a finding."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "delta_core.memory.shard_check", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, 0, "check timed out"
    out = proc.stdout.strip()
    if proc.returncode != 0:
        return False, 0, f"reading it crashed the checker (exit {proc.returncode})"
    if out.startswith("ok "):
        return True, int(out.split()[1]), ""
    return False, 0, out.removeprefix("bad ").strip() or "unreadable"
