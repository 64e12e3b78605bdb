"""The memory: one LMDB environment per local day of raw records, plus the index environment.

This is the public storage API. The shell's prompt path uses :class:`delta_core.session.recorder.Recorder`,
which wraps :meth:`Store.add` so that it never raises.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import lmdb

from delta_core import log
from delta_core.memory.encoded_batch import DayBatch, EncodedBatch, encode_batch
from delta_core.memory.index import Index, put_all
from delta_core.memory.lmdb_env import (
    ENVS,
    MAX_DBS,
    RootLock,
    compact_and_close,
    read_txn,
    write_txn,
)
from delta_core.paths import Layout, private_dir, write_private
from delta_core.records import codec
from delta_core.records.columns import Columns
from delta_core.records.record import Record, day_name

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MB = 1024 * 1024
INDEX_MAP_SIZE = 256 * MB


# LMDB errors that mean the file itself is bad (not a full disk or a permission problem).
DAMAGE_ERRORS = (
    lmdb.CorruptedError,
    lmdb.InvalidError,
    lmdb.PageNotFoundError,
    lmdb.VersionMismatchError,
    lmdb.BadTxnError,
    lmdb.PanicError,
)


class _DamagedShard(Exception):
    def __init__(self, day: str, reason: str) -> None:
        super().__init__(day, reason)
        self.day, self.reason = day, reason


@dataclass
class AddResult:
    added: int = 0
    duplicates: int = 0


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


def day_bounds_ns(day: str) -> tuple[int, int]:
    """UTC nanosecond range that can hold records of local ``day`` in any time zone."""
    t = time.mktime(time.strptime(day, "%Y-%m-%d"))
    return int((t - 86400) * 1e9), int((t + 2 * 86400) * 1e9)


class Store:
    """The day-sharded record store and its index, under one Delta root."""

    # Stores open per root in this process: environments close when the last one does.
    _users: ClassVar[dict[Path, int]] = {}

    def __init__(self, root: Path | str | None = None, *, map_size_mb: int = 8) -> None:
        self.layout = Layout(root)
        self.map_size = map_size_mb * MB
        self._lock = RootLock(self.layout.memory / ".lock")
        self._dirty: set[Path] = set()
        self._root_key = self.layout.root.absolute()
        Store._users[self._root_key] = Store._users.get(self._root_key, 0) + 1
        self._closed = False
        self._index: Index | None = None
        self._index_path = os.path.abspath(self.layout.index)
        self._shards_dir = os.path.abspath(self.layout.shards)
        self._generation = -1
        self._day_paths: dict[str, str] = {}
        self._unfolded: list[DayBatch] = []  # stored, not yet in the index (fold=False)
        self._unfolded_generation = -1  # the root lock's generation when they were stored

    # --- environments -------------------------------------------------------------------
    def _shard_path(self, day: str) -> Path:
        return self.layout.shards / day

    def _day_path(self, day: str) -> str:
        """The shard directory of ``day`` as the string the environment cache is keyed by."""
        path = self._day_paths.get(day)
        if path is None:
            path = self._day_paths[day] = os.path.join(self._shards_dir, day)
        return path

    def shard(self, day: str, *, create: bool, check: bool = True) -> lmdb.Environment | None:
        """The open environment of ``day``; reopened when another process swapped its files."""
        path = self._day_path(day)
        env = ENVS.get(path, self.map_size, create=False, check=check)
        if env is None and create:
            private_dir(self.layout.shards)
            env = ENVS.get(path, self.map_size, create=True)
        return env

    def _index_env(self, check: bool) -> lmdb.Environment:
        env = ENVS.get(
            self._index_path, INDEX_MAP_SIZE, create=False, max_dbs=MAX_DBS, check=check, pin=True
        )
        if env is None:
            private_dir(self.layout.memory)
            env = ENVS.get(self._index_path, INDEX_MAP_SIZE, create=True, max_dbs=MAX_DBS, pin=True)
        if self._index is None or self._index.env is not env:
            self._index = Index(env)
        return env

    @property
    def index(self) -> Index:
        self._index_env(check=True)
        return self._index

    def _revalidate(self) -> None:
        """Under the shared lock: reopen environments only if another process swapped files."""
        gen = self._lock.generation()
        if gen != self._generation:
            ENVS.revalidate_under(self.layout.root)
            self._generation = gen
            self._index = None  # reopened below, from the cache or the new files

    def days(self) -> list[str]:
        """Days that have a shard, oldest first."""
        if not self.layout.shards.is_dir():
            return []
        return sorted(p.name for p in self.layout.shards.iterdir() if DAY_RE.match(p.name))

    # --- writing ------------------------------------------------------------------------
    def add(self, rec: Record) -> bool:
        """Store one record (committed before returning); False when it was already there."""
        return self.add_encoded(encode_batch([rec])).added == 1

    def add_many(
        self,
        records: Iterable[Record],
        origins: Sequence[bytes | None] | None = None,
    ) -> AddResult:
        """Store records in as few transactions as possible; duplicates are skipped.

        ``origins``, aligned with ``records``, holds the import origin (a source and line) of
        each record that carried no timestamp: an origin seen before means "already here".
        """
        if not isinstance(records, list | tuple):
            records = list(records)
        return self.add_encoded(encode_batch(records, origins))

    def add_encoded(self, batch: EncodedBatch, *, fold: bool = True) -> AddResult:
        """Store records already encoded by :func:`~delta_core.memory.encoded_batch.encode_batch`.

        ``fold=False`` writes the shards now and leaves the index to :meth:`fold_pending`: a
        bulk import folds several batches at once, which merges each distinct command once
        instead of once per batch. :meth:`sync` and :meth:`close` fold what is left.
        """
        try:
            return self._add_grouped(batch, fold)
        except _DamagedShard as damaged:
            # A damaged day must not stop recording: set it aside and write a fresh one.
            with self._lock.exclusive():
                where = self._quarantine_locked(damaged.day)
            log.problem(
                f"shard {damaged.day} was damaged ({damaged.reason}); moved to {where}, "
                "recording goes on (`delta memory verify` checks the rest)",
                self.layout.log_file,
            )
            return self._add_grouped(batch, fold)

    def _add_grouped(self, by_day: EncodedBatch, fold: bool) -> AddResult:
        result = AddResult()
        added: list[DayBatch] = []
        with self._lock.shared():
            self._revalidate()
            if self._index is None:  # kept while the generation holds (see _revalidate)
                self._index_env(check=False)
            index = self._index
            for day_number, batch in by_day.items():
                day = day_name(day_number)
                if batch.origins is not None:
                    batch = self._drop_known_origins(index, batch, result)
                if not batch:
                    continue
                try:
                    env = self.shard(day, create=True, check=False)
                    assert env is not None
                    try:
                        write_txn(env, lambda txn, b=batch: _put_all_new(txn, b))
                    except _SomeDuplicates:
                        rows = write_txn(env, lambda txn, b=batch: _put_new(txn, b))
                        result.duplicates += len(batch) - len(rows)
                        batch = batch.take(rows)
                except DAMAGE_ERRORS as exc:
                    raise _DamagedShard(day, str(exc)) from None
                self._dirty.add(self._day_path(day))
                result.added += len(batch)
                added.append(batch)
            if not fold:
                if added and not self._unfolded:
                    # a process killed before folding leaves this behind (see fold_pending);
                    # written whole or not at all, so a reader never sees an empty pid
                    write_private(self.layout.unfolded_flag, str(os.getpid()))
                    self._unfolded_generation = self._generation
                self._unfolded.extend(added)
            elif added:
                write_txn(index.env, lambda txn: self._fold_into(txn, added))
                self._dirty.add(self._index_path)
        return result

    def unfolded(self) -> int:
        """Records written to shards but not yet folded into the index."""
        return sum(len(b) for b in self._unfolded)

    def fold_pending(self) -> None:
        """Fold into the index the batches stored with ``fold=False``."""
        if not self._unfolded:
            return
        pending, self._unfolded = self._unfolded, []
        folded = []

        def fold(txn: lmdb.Transaction) -> None:
            # a rebuild since they were stored (another process's reindex, a shard set aside)
            # has counted some of them already: folding them again would count them twice
            if self._generation == self._unfolded_generation:
                self._fold_into(txn, pending)
                folded.append(True)

        self.write_index(fold)
        if not folded:
            self.reindex()
        self.layout.unfolded_flag.unlink(missing_ok=True)

    def fold_was_interrupted(self) -> bool:
        """Whether a process died holding records stored but not folded into the index.

        Storing them again adds nothing (they are there), so only :meth:`reindex` brings the
        index level with the shards; it removes the mark.
        """
        try:
            pid = int(self.layout.unfolded_flag.read_text() or 0)
        except (OSError, ValueError):
            return self.layout.unfolded_flag.exists()  # unreadable: assume the worst
        if pid == os.getpid():
            return not self._unfolded
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            pass
        return False  # that import is still running

    def _fold_into(self, txn: lmdb.Transaction, added: list[DayBatch]) -> None:
        """Fold stored batches into the index, import origins included (caller's txn)."""
        index = self._index
        index.add_columns(txn, Columns.concat(b.cols for b in added))
        origins = [
            (origin, key)
            for b in added
            if b.origins is not None
            for key, origin in zip(b.keys, b.origins, strict=True)
            if origin is not None
        ]
        put_all(txn, index.db[b"imports"], origins)

    def write_index(self, fn: Callable[[lmdb.Transaction], object]) -> None:
        """Run ``fn`` in a write transaction of the index (suggestion feedback, not records)."""
        with self._lock.shared():
            self._revalidate()
            self._index_env(check=False)
            write_txn(self._index.env, fn)
            self._dirty.add(self._index_path)

    def _drop_known_origins(self, index: Index, batch: DayBatch, result: AddResult) -> DayBatch:
        idb = index.db[b"imports"]
        with read_txn(index.env) as txn:
            rows = [
                i
                for i, origin in enumerate(batch.origins)
                if origin is None or txn.get(origin, db=idb) is None
            ]
        if len(rows) == len(batch):
            return batch
        result.duplicates += len(batch) - len(rows)
        return batch.take(rows)

    def take_dirty(self) -> set[str]:
        """Environments written since the last sync (the caller syncs them with ``sync``)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def sync(self, paths: set[str] | None = None) -> None:
        """Flush committed transactions to disk (the group fsync)."""
        if paths is None:
            self.fold_pending()
        for path, exc in ENVS.sync(list(self._dirty if paths is None else paths)):
            log.problem(f"fsync of {path} failed: {exc}", self.layout.log_file)
        if paths is None:
            self._dirty.clear()

    def close(self) -> None:
        """Flush; the last store of this root in the process also closes its environments."""
        if self._closed:
            return
        self._closed = True
        self.sync()
        self._index = None
        left = Store._users.get(self._root_key, 1) - 1
        if left <= 0:
            Store._users.pop(self._root_key, None)
            ENVS.close_under(self.layout.root)
        else:
            Store._users[self._root_key] = left
        self._lock.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ------------------------------------------------------------------------
    def iter_records(
        self,
        since_ns: int | None = None,
        until_ns: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[Record]:
        """Records in time order (or newest first), streamed one shard at a time.

        A shard that cannot be read is reported in one line and skipped; the others stay
        readable. Memory use does not grow with the number of records.
        """
        days = self.days()
        if since_ns is not None:
            days = [d for d in days if day_bounds_ns(d)[1] >= since_ns]
        if until_ns is not None:
            days = [d for d in days if day_bounds_ns(d)[0] <= until_ns]
        for day in reversed(days) if reverse else days:
            yield from self._iter_shard(day, since_ns, until_ns, reverse)

    def _iter_shard(self, day, since_ns, until_ns, reverse) -> Iterator[Record]:
        try:
            env = self.shard(day, create=False)
            if env is None:
                return
            with read_txn(env) as txn:
                cur = txn.cursor()
                if reverse:
                    if until_ns is not None and cur.set_range(codec.time_key(until_ns + 1)):
                        ok = cur.prev()
                    else:
                        ok = cur.last()
                    step = cur.iterprev(keys=True, values=True) if ok else iter(())
                else:
                    ok = cur.set_range(codec.time_key(since_ns)) if since_ns else cur.first()
                    step = cur.iternext(keys=True, values=True) if ok else iter(())
                for key, value in step:
                    t = codec.key_time_ns(key)
                    if since_ns is not None and t < since_ns:
                        if reverse:
                            break
                        continue
                    if until_ns is not None and t > until_ns:
                        if reverse:
                            continue
                        break
                    yield codec.decode(value, key)
        except (lmdb.Error, codec.CodecError) as exc:
            log.problem(
                f"shard {day} is damaged ({exc}); run `delta memory verify`", self.layout.log_file
            )

    def iter_brief(self, since_ns: int | None = None) -> Iterator[tuple[int, int, int | None, str]]:
        """``(start_ns, utc_offset, exit, command)`` of every record since ``since_ns``, fast."""
        for day in self.days():
            if since_ns is not None and day_bounds_ns(day)[1] < since_ns:
                continue
            try:
                env = self.shard(day, create=False)
                if env is None:
                    continue
                with read_txn(env) as txn:
                    cur = txn.cursor()
                    ok = cur.set_range(codec.time_key(since_ns)) if since_ns else cur.first()
                    if not ok:
                        continue
                    for value in cur.iternext(keys=False, values=True):
                        yield codec.decode_brief(value)
            except (lmdb.Error, codec.CodecError) as exc:
                log.problem(
                    f"shard {day} is damaged ({exc}); run `delta memory verify`",
                    self.layout.log_file,
                )

    def count(self) -> int:
        """Total records over all readable shards (O(days), from LMDB's own counters)."""
        return sum(self.day_counts().values())

    def day_counts(self) -> dict[str, int]:
        """Records per day, from LMDB's own counters; a damaged shard is reported and skipped."""
        out = {}
        for day in self.days():
            try:
                env = self.shard(day, create=False)
                if env is not None:
                    out[day] = env.stat()["entries"]
            except lmdb.Error as exc:
                log.problem(f"shard {day} is damaged ({exc})", self.layout.log_file)
        return out

    # --- rewriting ----------------------------------------------------------------------
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
    def reindex(self) -> int:
        """Rebuild the derived index tables from the shards; return the records indexed."""
        with self._lock.exclusive():
            return self._reindex_locked()

    def _reindex_locked(self) -> int:
        index = self.index
        self.layout.unfolded_flag.unlink(missing_ok=True)
        write_txn(index.env, index.clear_derived)
        n = 0
        batch: list[Record] = []
        for rec in self.iter_records():
            batch.append(rec)
            if len(batch) >= 50_000:
                write_txn(index.env, lambda txn, b=batch: index.add_records(txn, b))
                n += len(batch)
                batch = []
        if batch:
            write_txn(index.env, lambda txn: index.add_records(txn, batch))
            n += len(batch)
        self._compact(index.env, self.layout.index)
        self._index = None
        return n

    def _compact(self, env: lmdb.Environment, path: Path) -> None:
        self._dirty.discard(os.path.abspath(path))
        ENVS.drop(path, close=False)
        compact_and_close(env, path)
        self._lock.bump()

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
        ENVS.drop(path)
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


class _SomeDuplicates(Exception):
    """Raised to abort a shard write that met keys already stored."""


def _put_all_new(txn: lmdb.Transaction, batch: DayBatch) -> None:
    if len(batch) == 1:
        if not txn.put(batch.keys[0], batch.values[0], overwrite=False):
            raise _SomeDuplicates
        return
    consumed, added = txn.cursor().putmulti(
        zip(batch.keys, batch.values, strict=True), overwrite=False
    )
    if added != consumed:
        raise _SomeDuplicates


def _put_new(txn: lmdb.Transaction, batch: DayBatch) -> list[int]:
    """Store the rows whose keys are new; their row numbers."""
    return [
        i
        for i, (key, value) in enumerate(zip(batch.keys, batch.values, strict=True))
        if txn.put(key, value, overwrite=False)
    ]


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
