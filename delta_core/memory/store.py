"""The memory: one LMDB environment per local day of raw records, plus the index environment.

This is the public storage API. The shell's prompt path uses :class:`delta_core.session.recorder.Recorder`,
which wraps :meth:`Store.add` so that it never raises.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import lmdb

from delta_core import log
from delta_core.memory.encoded_batch import DayBatch, EncodedBatch, encode_batch
from delta_core.memory.index import Index, put_all
from delta_core.memory.lmdb_env import DAMAGE_ERRORS, MAX_DBS, RootLock, read_txn, write_txn
from delta_core.memory.maintenance import (
    Maintenance,
    VerifyReport,
    check_isolated,
    check_shard_isolated,
    lost_words,
)
from delta_core.memory.roots import ROOTS
from delta_core.paths import DiskFull, Layout, private_dir, write_private
from delta_core.records import codec
from delta_core.records.columns import Columns
from delta_core.records.record import Record, day_name

__all__ = [
    "DAMAGE_ERRORS",
    "AddResult",
    "DiskFull",
    "Store",
    "VerifyReport",
    "check_shard_isolated",
    "day_bounds_ns",
]

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# a compaction's copy and the files it replaces (they exist only while it holds the lock)
_SWAP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.(compact|old)$")
MB = 1024 * 1024
INDEX_MAP_SIZE = 256 * MB


class _DamagedIndex(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _DamagedShard(Exception):
    def __init__(self, day: str, reason: str) -> None:
        super().__init__(day, reason)
        self.day, self.reason = day, reason


@dataclass
class AddResult:
    added: int = 0
    duplicates: int = 0


@functools.lru_cache(maxsize=65536)
def day_bounds_ns(day: str) -> tuple[int, int]:
    """UTC nanosecond range that can hold records of local ``day`` in any time zone.

    Cached: a time-bounded read filters every day by it, and ``delta search`` reads each
    hit's neighbours (16,440 calls, 0.61 s of a 1.6 s cold query over 1,644 days).
    """
    t = time.mktime(time.strptime(day, "%Y-%m-%d"))
    return int((t - 86400) * 1e9), int((t + 2 * 86400) * 1e9)


class Store(Maintenance):
    """The day-sharded record store and its index, under one Delta root.

    Opening, adding, folding into the index and reading live here; forgetting, pruning,
    verifying and reindexing in :class:`~delta_core.memory.maintenance.Maintenance`.
    """

    def __init__(self, root: Path | str | None = None, *, map_size_mb: int = 8) -> None:
        self.layout = Layout(root)
        self.map_size = map_size_mb * MB
        self._lock = RootLock(self.layout.memory / ".lock")
        self._dirty: set[str] = set()
        # environments, the index and the lock generation, shared with this root's other stores
        self._root = ROOTS.acquire(self.layout.root.absolute())
        self._closed = False
        #: days a reader skipped since this store opened, with why (``export`` fails on them)
        self.skipped_days: dict[str, str] = {}
        self._caught_up = False  # see _catch_up
        self._index_path = os.path.abspath(self.layout.index)
        self._shards_dir = os.path.abspath(self.layout.shards)
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
        env = self._root.envs.get(path, self.map_size, create=False, check=check)
        if env is None and create:
            private_dir(self.layout.shards)
            env = self._root.envs.get(path, self.map_size, create=True)
        return env

    def _index_env(self, check: bool) -> lmdb.Environment:
        """The open index environment; raises :class:`_DamagedIndex` when it cannot be read."""
        envs = self._root.envs
        try:
            env = envs.get(
                self._index_path,
                INDEX_MAP_SIZE,
                create=False,
                max_dbs=MAX_DBS,
                check=check,
                pin=True,
            )
            if env is None:
                private_dir(self.layout.memory)
                env = envs.get(
                    self._index_path, INDEX_MAP_SIZE, create=True, max_dbs=MAX_DBS, pin=True
                )
            root = self._root
            if root.index is None or root.index.env is not env:
                root.index = Index(env)
        except DAMAGE_ERRORS as exc:
            envs.drop(self._index_path)
            raise _DamagedIndex(str(exc)) from None
        return env

    @property
    def index(self) -> Index:
        if not self._caught_up:
            self._catch_up()
        try:
            self._index_env(check=True)
        except _DamagedIndex as damaged:  # derived data: rebuilt from the shards
            self.repair_index(damaged.reason)
            self._index_env(check=True)
        return self._root.index

    def _catch_up(self) -> None:
        """Once per store: bring the index level with the shards if an import was killed
        before folding what it stored (otherwise only ``verify`` would notice)."""
        self._caught_up = True
        try:
            behind = self.fold_was_interrupted()
        except OSError:
            return
        if behind:
            log.problem(
                "an import was killed before its index was complete: rebuilding the index "
                "from the shards",
                self.layout.log_file,
            )
            self.reindex()

    def _check_home(self) -> None:
        """Notice a Delta root deleted or replaced under this process, and start afresh there.

        Without it every later command would be written into deleted files in silence. The
        environments are checked against the files on disk, not the new lock file against
        the old one: a file made again may get the inode number of the one deleted.
        """
        lock = self._lock
        if lock.moved():
            lock.close()
            lock.identity()  # opens a new lock file, making the root again (private)
            self._root.reset()
            self._dirty.clear()
            log.problem(
                f"the memory at {self.layout.root} was removed while in use; "
                "recording goes on in a new one there",
                self.layout.log_file,
            )

    def _revalidate(self) -> None:
        """Under the shared lock: reopen environments only if another process swapped files."""
        self._root.revalidate(self._lock.generation())

    def days(self) -> list[str]:
        """Days that have a shard, oldest first (see :meth:`not_days` for the rest)."""
        return self._scan_shards()[0]

    def not_days(self) -> list[str]:
        """Entries under ``shards/`` that are not day shards: reported once and skipped."""
        return self._scan_shards()[1]

    def _scan_shards(self) -> tuple[list[str], list[str]]:
        try:
            entries = list(os.scandir(self.layout.shards))
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        days, strays = [], []
        for e in entries:
            if DAY_RE.match(e.name) and e.is_dir(follow_symlinks=False):
                days.append(e.name)
            elif not (e.name.startswith(".") or _SWAP_RE.match(e.name)):
                strays.append(e.name)
        for name in strays:
            log.problem(
                f"{self.layout.shards / name} is not a day shard; skipped "
                f"(move it out of {self.layout.shards})",
                self.layout.log_file,
            )
        return sorted(days), sorted(strays)

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
        if not self._caught_up:
            self._catch_up()
        try:
            return self._add_grouped(batch, fold)
        except DiskFull:
            raise DiskFull(self.layout.root) from None
        except _DamagedShard as damaged:
            # A damaged day must not stop recording: set it aside and write a fresh one.
            path = self._shard_path(damaged.day)
            self._root.envs.drop(path)  # whatever it was, this handle is not to be trusted
            state, _, why = check_isolated(path)
            if state == "ok":  # the files are sound: a fresh handle writes
                return self._add_grouped(batch, fold)
            if state == "denied":
                raise PermissionError(why) from None
            with self._lock.exclusive():
                aside = self._quarantine_locked(damaged.day)
            log.problem(
                f"shard {damaged.day} was damaged ({damaged.reason}); moved to {aside.dest} "
                f"({aside.kept:,} intact records kept in a fresh shard, {lost_words(aside.lost)}); "
                "recording goes on (`delta memory verify` checks the rest)",
                self.layout.log_file,
            )
            return self._add_grouped(batch, fold)
        except _DamagedIndex as damaged:
            self.repair_index(damaged.reason)
            return self._add_grouped(batch, fold)

    def _add_grouped(self, by_day: EncodedBatch, fold: bool) -> AddResult:
        added: list[DayBatch] = []
        try:
            return self._add_grouped_into(by_day, fold, added)
        except DiskFull:
            # Days stored before the disk filled up are kept: they fold into the index with
            # the next write that has room (or at sync, close or the next import).
            if fold and added:
                self._keep_unfolded(added)
            raise

    def _keep_unfolded(self, added: list[DayBatch]) -> None:
        if not self._unfolded:
            self._unfolded_generation = self._root.generation
            with contextlib.suppress(OSError):
                write_private(self.layout.unfolded_flag, str(os.getpid()))
        self._unfolded.extend(added)

    def _add_grouped_into(
        self, by_day: EncodedBatch, fold: bool, added: list[DayBatch]
    ) -> AddResult:
        result = AddResult()
        self._check_home()
        with self._lock.shared():
            self._revalidate()
            if self._root.index is None:  # kept while the generation holds (see _revalidate)
                self._index_env(check=False)
            index = self._root.index
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
                except lmdb.Error as exc:  # damage, or an environment left unusable by it
                    raise _DamagedShard(day, str(exc)) from None
                self._dirty.add(self._day_path(day))
                result.added += len(batch)
                added.append(batch)
            if not fold:
                if added and not self._unfolded:
                    # a process killed before folding leaves this behind (see fold_pending);
                    # written whole or not at all, so a reader never sees an empty pid
                    write_private(self.layout.unfolded_flag, str(os.getpid()))
                    self._unfolded_generation = self._root.generation
                self._unfolded.extend(added)
            elif added:
                stranded = self._unfolded  # left by an earlier write the disk had no room for
                if stranded and self._root.generation == self._unfolded_generation:
                    both = [*stranded, *added]
                    write_txn(index.env, lambda txn: self._fold_into(txn, both))
                    self._unfolded = []
                    self.layout.unfolded_flag.unlink(missing_ok=True)
                else:
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
            if self._root.generation == self._unfolded_generation:
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
        for pid in self.layout.unfolded_flags():
            if pid == os.getpid():
                if not self._unfolded:
                    return True
                continue
            if pid <= 0:
                return True
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass  # alive, another user's: that import is still running
        return False

    def _fold_into(self, txn: lmdb.Transaction, added: list[DayBatch]) -> None:
        """Fold stored batches into the index, import origins included (caller's txn)."""
        index = self._root.index
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
        try:
            self._write_index(fn)
        except _DamagedIndex as damaged:
            self.repair_index(damaged.reason)
            self._write_index(fn)

    def _write_index(self, fn: Callable[[lmdb.Transaction], object]) -> None:
        with self._lock.shared():
            self._revalidate()
            self._index_env(check=False)
            try:
                write_txn(self._root.index.env, fn)
            except DiskFull:
                raise DiskFull(self.layout.root) from None
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
        for path, exc in self._root.envs.sync(list(self._dirty if paths is None else paths)):
            log.problem(f"fsync of {path} failed: {exc}", self.layout.log_file)
        if paths is None:
            self._dirty.clear()

    def close(self) -> None:
        """Flush; the last store of this root in the process also closes its environments."""
        if self._closed:
            return
        self._closed = True
        self.sync()
        ROOTS.release(self._root)
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
        except (lmdb.Error, codec.CodecError, OSError) as exc:
            self._unreadable(day, exc)

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
            except (lmdb.Error, codec.CodecError, OSError) as exc:
                self._unreadable(day, exc)

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
            except (lmdb.Error, OSError) as exc:
                self._unreadable(day, exc)
        return out

    def _unreadable(self, day: str, exc: Exception) -> None:
        """Report a day a reader had to skip (once per process) and remember it.

        A read cut short because this store was closed meanwhile (a reader thread outlived
        its shell) is no damage: nothing is said."""
        if self._closed:
            return
        if isinstance(exc, PermissionError | lmdb.ReadonlyError) or "Permission denied" in str(exc):
            why = f"shard {day} cannot be read: permission denied ({self._shard_path(day)})"
        else:
            why = f"shard {day} is damaged ({exc}); run `delta memory verify`"
        self.skipped_days[day] = why
        log.problem(why, self.layout.log_file)


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
