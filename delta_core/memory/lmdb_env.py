"""Opening LMDB environments the way Delta needs them: private, growable, shared by processes.

Many shells write the same environment at once (LMDB gives one writer at a time and never
blocks readers).

Writes go through ``write()`` calls, not through a writable memory map: LMDB's ``MDB_WRITEMAP``
makes the data file a sparse file the size of the map, and a page written into a hole of it
on a full file system kills the process with SIGBUS instead of returning an error. Without
it a full disk is ``ENOSPC`` from the commit (``lmdb.DiskError``), the transaction is rolled
back and the environment stays usable. LMDB's lock file is memory-mapped in any case, so it
is allocated with ``posix_fallocate`` before LMDB maps it. Writes are committed without fsync and flushed by a group fsync (see
:mod:`delta_core.session.recorder`), so a killed process loses nothing it committed and an OS crash
loses at most the last sync interval.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import lmdb

from delta_core.paths import (
    FILE_MODE,
    DiskFull,
    free_mb,
    is_disk_full,
    make_private,
    private_dir,
)

T = TypeVar("T")

# LMDB errors that mean the file itself is bad (not a full disk or a permission problem).
DAMAGE_ERRORS = (
    lmdb.CorruptedError,
    lmdb.InvalidError,
    lmdb.PageNotFoundError,
    lmdb.VersionMismatchError,
    lmdb.BadTxnError,
    lmdb.PanicError,
)
MAX_DBS = 16
SYNC_THREADS = 8
MAX_READERS = 256
# LMDB's lock file holds a header and 64 bytes per reader slot (16.5 KB for 256 readers);
# reserving more only adds reader slots, reserving less leaves holes that can SIGBUS.
LOCK_FILE_BYTES = 64 * 1024
# An EIO from a commit with less than this free is a write the full disk cut short.
SHORT_WRITE_FREE_MB = 2


def open_env(
    path: Path, map_size: int, *, create: bool = True, max_dbs: int = 0
) -> lmdb.Environment:
    """Open (or create) the environment in directory ``path`` with private files.

    Raises :class:`~delta_core.paths.DiskFull` when the file system cannot hold its lock
    file or first pages; a directory created for it is removed again.
    """
    made = create and not path.is_dir()
    if create:
        private_dir(path)
    try:
        _reserve_lock_file(path, create)
        env = lmdb.open(
            str(path),
            map_size=map_size,
            subdir=True,
            create=create,
            max_dbs=max_dbs,
            sync=False,
            metasync=False,
            readahead=False,
            writemap=False,  # see the module doc: a full disk must be an error, not SIGBUS
            mode=FILE_MODE,
            max_readers=MAX_READERS,
        )
    except (OSError, lmdb.Error) as exc:
        if made:
            shutil.rmtree(path, ignore_errors=True)
        if is_disk_full(exc):
            raise DiskFull(path) from None
        raise
    for name in ("data.mdb", "lock.mdb"):
        f = path / name
        if f.exists():
            make_private(f)
    return env


def _reserve_lock_file(path: Path, create: bool) -> None:
    """Allocate LMDB's lock file on disk before LMDB maps it (see the module doc)."""
    name = os.path.join(path, "lock.mdb")
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(name, flags, FILE_MODE)
    except FileNotFoundError:
        if not create and os.path.exists(os.path.join(path, "data.mdb")):
            fd = os.open(name, flags | os.O_CREAT, FILE_MODE)
        else:
            return  # LMDB reports the missing environment in its own words
    except PermissionError:
        return  # read-only access: LMDB says so
    try:
        size = max(os.fstat(fd).st_size, LOCK_FILE_BYTES)
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return  # a file system without allocation (LMDB then ftruncates as usual)
            raise
    finally:
        os.close(fd)


def write_txn(env: lmdb.Environment, fn: Callable[[lmdb.Transaction], T]) -> T:
    """Run ``fn`` in a write transaction, growing the map when it is full.

    A full map doubles and the transaction is retried, so nothing is lost. Another process
    having grown the map is adopted the same way. A full file system raises
    :class:`~delta_core.paths.DiskFull`; the transaction is rolled back whole.
    """
    while True:
        try:
            with env.begin(write=True) as txn:
                return fn(txn)
        except lmdb.MapFullError:
            env.set_mapsize(env.info()["map_size"] * 2)
        except lmdb.MapResizedError:
            env.set_mapsize(0)
        except lmdb.Error as exc:
            if is_disk_full(exc) or _short_write(exc, env.path()):
                raise DiskFull(env.path()) from None
            raise


def _short_write(exc: lmdb.Error, path: str) -> bool:
    """LMDB words a write cut short by a full disk as EIO: tell it from a real I/O error."""
    return "Input/output error" in str(exc) and free_mb(path) < SHORT_WRITE_FREE_MB


def read_txn(env: lmdb.Environment) -> lmdb.Transaction:
    """Begin a read transaction, adopting a map another process has grown."""
    try:
        return env.begin(write=False, buffers=False)
    except lmdb.MapResizedError:
        env.set_mapsize(0)
        return env.begin(write=False, buffers=False)


class _Held:
    """A ``flock`` held for the duration of a ``with`` block."""

    __slots__ = ("fd", "mode")

    def __init__(self, fd: int, mode: int) -> None:
        self.fd, self.mode = fd, mode

    def __enter__(self) -> None:
        fcntl.flock(self.fd, self.mode)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)


class RootLock:
    """A lock file that writers hold shared and a compaction or quarantine holds exclusive.

    Rewriting an environment swaps its files; a process still holding the old ones would
    write into a deleted file. Writers therefore take this lock shared and check that their
    open environment is still the one on disk before writing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._ident = (0, 0)

    def _open(self) -> int:
        if self._fd is None:
            private_dir(self.path.parent)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            st = os.fstat(self._fd)
            self._ident = (st.st_dev, st.st_ino)
        return self._fd

    def shared(self) -> _Held:
        """Held shared for a ``with`` block (a plain object: this is on the prompt path)."""
        return _Held(self._open(), fcntl.LOCK_SH)

    def exclusive(self) -> _Held:
        """Held exclusive for a ``with`` block: no writer in any process meanwhile."""
        return _Held(self._open(), fcntl.LOCK_EX)

    def generation(self) -> int:
        """A counter bumped whenever an environment under this root is swapped on disk."""
        raw = os.pread(self._open(), 8, 0)
        return int.from_bytes(raw, "little") if len(raw) == 8 else 0

    def bump(self) -> None:
        """Tell other processes that files were swapped (call while holding it exclusive)."""
        os.pwrite(self._open(), (self.generation() + 1).to_bytes(8, "little"), 0)

    def identity(self) -> tuple[int, int]:
        """(device, inode) of the lock file this lock holds open (opening it if need be)."""
        st = os.fstat(self._open())
        return st.st_dev, st.st_ino

    def moved(self) -> bool:
        """Whether the lock file held open was removed or replaced on disk (the Delta root
        deleted under a running process): one ``stat``, cheap enough for the prompt path."""
        if self._fd is None:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self._ident

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the data file, to notice an environment swapped on disk."""
    try:
        st = os.stat(path / "data.mdb")
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def compact_and_close(env: lmdb.Environment, path: Path) -> None:
    """Rewrite the environment at ``path`` with only its live records, then close ``env``.

    LMDB keeps freed pages (and the bytes on them) until they are reused, so text removed by
    ``forget`` would survive in the file. Its own compacting copy is not enough: it copies live
    pages byte for byte, and a branch page keeps the key of a deleted record as a separator
    (its first node's key is never looked at, so never cleared) — a forgotten command's text,
    where keys start with it. So the copy is logical: every record of every database is put
    into a fresh environment, whose pages only ever held live records. The copy replaces the
    whole directory (a fresh lock file included); other processes notice the new inode and
    reopen. The caller holds the root lock exclusively.
    """
    tmp = path.with_name(path.name + ".compact")
    old = path.with_name(path.name + ".old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    private_dir(tmp)
    try:
        _logical_copy(env, tmp)
    except BaseException as exc:
        env.close()  # the caller has dropped it from the cache: it is reopened from the files
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, lmdb.Error | OSError) and is_disk_full(exc):
            raise DiskFull(path) from None
        raise
    env.close()
    make_private(tmp / "data.mdb")
    os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old)


_DB_RECORD = 48  # bytes of LMDB's record of a named database in the main one


def _logical_copy(env: lmdb.Environment, dst: Path) -> None:
    """Put every record of ``env`` (its main database and each named one) into a new ``dst``."""
    out = lmdb.open(
        str(dst),
        map_size=env.info()["map_size"],
        subdir=True,
        max_dbs=MAX_DBS * 4,
        sync=False,
        metasync=False,
        writemap=False,  # LMDB zero-fills what a page does not use
        mode=FILE_MODE,
    )
    try:
        with env.begin() as src, out.begin(write=True) as dst_txn:
            plain: list[tuple[bytes, bytes]] = []
            for name, value in src.cursor():
                db = None
                if len(value) == _DB_RECORD:  # only then can it name a database
                    try:
                        db = env.open_db(bytes(name), txn=src, create=False)
                    except lmdb.Error:
                        db = None
                if db is None:
                    plain.append((bytes(name), bytes(value)))  # a record of the main database
                    continue
                flags = db.flags(src)
                new = out.open_db(
                    bytes(name),
                    txn=dst_txn,
                    dupsort=flags.get("dupsort", False),
                    dupfixed=flags.get("dupfixed", False),
                    integerkey=flags.get("integerkey", False),
                    integerdup=flags.get("integerdup", False),
                    reverse_key=flags.get("reverse_key", False),
                )
                cur = dst_txn.cursor(db=new)
                cur.putmulti(
                    ((bytes(k), bytes(v)) for k, v in src.cursor(db=db)),
                    dupdata=flags.get("dupsort", False),
                    append=not flags.get("reverse_key", False),
                )
            for k, v in plain:
                dst_txn.put(k, v)
        out.sync(True)
    finally:
        out.close()


def _flush_file(path: str) -> tuple[str, OSError] | None:
    """fdatasync an environment's data file (its commits are in the page cache until then)."""
    try:
        fd = os.open(os.path.join(path, "data.mdb"), os.O_RDONLY)
    except FileNotFoundError:
        return None  # removed since (pruned, quarantined): nothing left to flush
    except OSError as exc:
        return path, exc
    try:
        os.fdatasync(fd)
    except OSError as exc:
        return path, exc
    finally:
        os.close(fd)
    return None


class EnvCache:
    """The environments this process has open under one root, one per directory.

    LMDB allows an environment to be open only once per process, so every store on the
    same root shares these (see :mod:`delta_core.memory.roots`). An environment whose files were swapped on disk (by a
    compaction in another process) is closed and reopened on the next request.
    """

    # Each environment holds two file descriptors and address space; a history spanning years
    # touches hundreds of days, so the least recently used ones are closed beyond this.
    MAX_OPEN = 64

    def __init__(self) -> None:
        # insertion order is use order: a hit moves the entry to the end
        self._envs: dict[str, tuple[lmdb.Environment, tuple[int, int] | None]] = {}
        self._pinned: set[str] = set()  # never evicted (the index, in use across a write)
        self._unsynced: set[str] = set()  # closed by eviction before their next sync
        # The shell's recorder and its suggestion thread may open the same one at once.
        self._lock = threading.RLock()

    def get(
        self,
        path: str,
        map_size: int,
        *,
        create: bool,
        max_dbs: int = 0,
        check: bool = True,
        pin: bool = False,
    ) -> lmdb.Environment | None:
        """The environment in directory ``path`` (an absolute path string); safe to call
        from several threads.

        ``check=False`` skips the on-disk identity check: the prompt path uses it after the
        root lock's generation showed that nothing was swapped.
        """
        with self._lock:
            cached = self._envs.pop(path, None)
            if cached is not None:
                if not check or cached[1] == file_identity(Path(path)):
                    self._envs[path] = cached
                    return cached[0]
                cached[0].close()
            if not create and file_identity(Path(path)) is None:
                return None
            env = open_env(Path(path), map_size, create=create, max_dbs=max_dbs)
            self._envs[path] = (env, file_identity(Path(path)))
            if pin:
                self._pinned.add(path)
            while len(self._envs) > self.MAX_OPEN + len(self._pinned):
                self._evict_oldest()
            return env

    def drop(self, path: str | Path, *, close: bool = True) -> None:
        """Forget the environment at ``path`` (closing it unless already closed)."""
        key = os.path.abspath(path)
        with self._lock:
            self._pinned.discard(key)
            cached = self._envs.pop(key, None)
            if cached is not None and close:
                cached[0].close()

    def revalidate_under(self, root: Path) -> None:
        """Close environments under ``root`` whose files were swapped by another process."""
        prefix = os.path.abspath(root) + os.sep
        with self._lock:  # re-entrant: drop takes it again
            for key, (_, ident) in list(self._envs.items()):
                if key.startswith(prefix) and file_identity(Path(key)) != ident:
                    self.drop(key)

    def close_under(self, root: Path) -> None:
        prefix = os.path.abspath(root) + os.sep
        with self._lock:
            for key in [k for k in self._envs if k.startswith(prefix)]:
                self._pinned.discard(key)
                self._envs.pop(key)[0].close()

    def _evict_oldest(self) -> None:
        old_path = next(p for p in self._envs if p not in self._pinned)
        old_env, _ = self._envs.pop(old_path)
        old_env.close()
        # Closing does not flush a no-sync environment: its pages wait in the page cache for
        # the next group sync, which flushes the file without reopening the environment.
        self._unsynced.add(old_path)

    def sync(self, paths: Iterable[str]) -> list[tuple[str, OSError]]:
        """Flush the data files of these environments (open or closed since written) to disk.

        Many files are flushed at once from a few threads: the file system commits
        concurrent flushes together, about ten times faster than one after another on ext4.
        Returns the ``(path, error)`` of each file that could not be flushed.
        """
        with self._lock:
            todo = [p for p in paths if p in self._envs or p in self._unsynced]
            self._unsynced.difference_update(todo)
        if len(todo) <= 1:
            return [failed for failed in map(_flush_file, todo) if failed is not None]
        with ThreadPoolExecutor(min(SYNC_THREADS, len(todo))) as pool:
            return [failed for failed in pool.map(_flush_file, todo) if failed is not None]
