"""Checking and salvaging one day shard (or the index) in a separate process.

A damaged LMDB file can crash the process that reads it, so ``verify`` opens each shard here,
in a child process, and treats a crash like any other corruption. Run as

``python -m delta_core.memory.shard_check PATH``
    prints ``ok N``, ``bad REASON`` or ``denied REASON`` (the file cannot be read for lack of
    permission: not damage, and nothing is moved);
``python -m delta_core.memory.shard_check --index PATH``
    the same for the index environment (every table walked);
``python -m delta_core.memory.shard_check --salvage SRC DEST``
    copies every intact record of the damaged shard SRC into a fresh shard DEST and prints
    ``kept N lost M`` (M: records LMDB counted that could not be read back, when it knows).
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import lmdb

from delta_core.records import codec

# Salvage probes the key space (keys start with the start time) this often, to reach the
# records behind a damaged page that a cursor cannot walk past.
PROBE_STEP_NS = 60 * 1_000_000_000
DAY_NS = 86_400 * 1_000_000_000


def _unreadable(path: Path) -> str | None:
    """Why ``path``'s data file cannot be read, when that is a permission problem."""
    data = path / "data.mdb"
    try:
        fd = os.open(data, os.O_RDONLY)
    except PermissionError:
        return f"permission denied reading {data} (fix: chown/chmod it to be yours, 0600)"
    except OSError as exc:
        if exc.errno == errno.EACCES:
            return f"permission denied reading {data}"
        return None
    os.close(fd)
    if not os.access(path, os.R_OK | os.X_OK):
        return f"permission denied on {path}"
    return None


def _precheck(path: Path) -> tuple[str, str] | None:
    data = path / "data.mdb"
    if not data.is_file():
        return "bad", "data.mdb is missing"
    denied = _unreadable(path)
    if denied:
        return "denied", denied
    if data.stat().st_size == 0:
        return "bad", "data.mdb is empty (0 bytes): its records are gone"
    return None


def check(path: Path) -> tuple[bool, int, str]:
    """Walk every record: keys in order, values decodable with a valid checksum."""
    state, n, why = check_state(path)
    return state == "ok", n, why


def check_state(path: Path) -> tuple[str, int, str]:
    """``(ok | bad | denied, records, reason)`` of a day shard."""
    pre = _precheck(path)
    if pre is not None:
        return pre[0], 0, pre[1]
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, subdir=True, create=False)
    except lmdb.Error as exc:
        return "bad", 0, f"cannot open: {exc}"
    n = 0
    try:
        with env.begin(buffers=False) as txn:
            prev = b""
            for key, value in txn.cursor():
                if len(key) != 16 or key <= prev:
                    return "bad", n, f"bad key after {n} records"
                rec = codec.decode(value, key)
                if codec.record_key(rec) != key:
                    return "bad", n, f"record {n} does not match its key"
                prev = key
                n += 1
    except (lmdb.Error, codec.CodecError) as exc:
        return "bad", n, f"after {n} records: {exc}"
    finally:
        env.close()
    return "ok", n, ""


def check_index(path: Path) -> tuple[str, int, str]:
    """``(ok | bad | denied, entries, reason)`` of the index: every table walked."""
    pre = _precheck(path)
    if pre is not None:
        return pre[0], 0, pre[1]
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, subdir=True, create=False, max_dbs=64)
    except lmdb.Error as exc:
        return "bad", 0, f"cannot open: {exc}"
    n = 0
    try:
        with env.begin(buffers=True) as txn:
            names = [bytes(k) for k, _ in txn.cursor()]
            for name in names:
                db = env.open_db(name, txn=txn, create=False)
                for _ in txn.cursor(db=db).iternext(keys=True, values=False):
                    n += 1
    except lmdb.Error as exc:
        return "bad", n, f"after {n} entries: {exc}"
    finally:
        env.close()
    return "ok", n, ""


def salvage(src: Path, dest: Path, day_start_ns: int | None = None) -> tuple[int, int]:
    """Copy the intact records of shard ``src`` into a new shard ``dest``; ``(kept, lost)``.

    A cursor walks forward until the first damaged page and backward from the end until the
    last one; between them, the key space is probed every minute of the day (keys begin with
    the start time), so the records behind a damaged page are reached too; then every leaf
    page is read from the raw bytes (:func:`raw_leaf_records`), which finds what a cursor
    cannot reach when the meta pages or inner pages are destroyed. Each record is kept only
    when it decodes with a valid checksum and matches its key.
    """
    from delta_core.memory.lmdb_env import open_env, write_txn

    kept: dict[bytes, bytes] = {}
    broken = 0
    if not (src / "data.mdb").is_file():
        return 0, 0
    counted: int | None = None

    def take(key: bytes, value: bytes) -> None:
        nonlocal broken
        if len(key) != 16 or key in kept:
            return
        try:
            rec = codec.decode(value, key)
            if codec.record_key(rec) == key:
                kept[key] = value
                return
        except codec.CodecError:
            pass
        broken += 1

    def walk(steps, limit: int | None = None) -> None:
        n = 0
        try:
            for key, value in steps:
                if key in kept:
                    return  # met what another walk read already
                take(key, value)
                n += 1
                if limit is not None and n >= limit:
                    return
        except (lmdb.Error, SystemError):
            return

    try:
        env = lmdb.open(str(src), readonly=True, lock=False, subdir=True, create=False)
    except lmdb.Error:
        env = None  # its meta pages are gone: only the raw pages below can tell
    if env is not None:
        try:
            _walk_cursors(env, walk, day_start_ns)
            with contextlib.suppress(lmdb.Error):
                counted = env.stat()["entries"]
        finally:
            env.close()
    for key, value in raw_leaf_records(src / "data.mdb"):
        take(key, value)
    out = open_env(dest, 8 * 1024 * 1024)
    try:
        rows = sorted(kept.items())
        write_txn(out, lambda txn: txn.cursor().putmulti(rows))
        out.sync(True)
    finally:
        out.close()
    # with no meta page left, nothing says how many there were
    lost = max(0, counted - len(kept)) if counted is not None else -1 if env is None else broken
    return len(kept), lost


def _walk_cursors(env: lmdb.Environment, walk, day_start_ns: int | None) -> None:
    """Forward from the first record, backward from the last, then probes (see salvage)."""
    try:
        txn = env.begin(buffers=False)
    except lmdb.Error:
        return
    with txn:
        cur = txn.cursor()
        try:
            if cur.first():
                walk(cur.iternext(keys=True, values=True))
        except lmdb.Error:
            pass
        try:
            if cur.last():
                walk(cur.iterprev(keys=True, values=True))
        except lmdb.Error:
            pass
        if day_start_ns is not None:
            lo, hi = day_start_ns - DAY_NS, day_start_ns + 2 * DAY_NS
            for t in range(lo, hi, PROBE_STEP_NS):
                try:
                    if cur.set_range(codec.time_key(t)):
                        walk(cur.iternext(keys=True, values=True), limit=10_000)
                except lmdb.Error:
                    continue


_PAGE_HEAD = struct.Struct("<QHHHH")  # page number, pad, flags, lower, upper
_NODE_HEAD = struct.Struct("<HHHH")  # data size (low, high), flags, key size
P_LEAF, P_LEAF2, P_OVERFLOW = 0x02, 0x20, 0x04
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04


def raw_leaf_records(data_file: Path, page_size: int = 4096) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) stored on an LMDB leaf page of ``data_file``, read from the raw
    bytes: what survives when the meta pages or the tree above the leaves are destroyed.

    Pages are recognised by their own page number and flags; the caller keeps only pairs
    whose value decodes with a valid checksum and matches its key, so stray bytes (and the
    free list, whose keys are 8 bytes) never pass.
    """
    try:
        raw = data_file.read_bytes()
    except OSError:
        return
    pages = len(raw) // page_size
    for pgno in range(2, pages):
        base = pgno * page_size
        number, _, flags, lower, upper = _PAGE_HEAD.unpack_from(raw, base)
        if number != pgno or not flags & P_LEAF or flags & (P_LEAF2 | P_OVERFLOW):
            continue
        if not _PAGE_HEAD.size <= lower <= upper <= page_size:
            continue
        for i in range((lower - _PAGE_HEAD.size) // 2):
            (off,) = struct.unpack_from("<H", raw, base + _PAGE_HEAD.size + 2 * i)
            if not upper <= off <= page_size - _NODE_HEAD.size:
                continue
            lo, hi, nflags, ksize = _NODE_HEAD.unpack_from(raw, base + off)
            if nflags & (F_SUBDATA | F_DUPDATA) or ksize != 16:
                continue
            size = lo | hi << 16
            at = base + off + _NODE_HEAD.size
            key = raw[at : at + ksize]
            if nflags & F_BIGDATA:
                (first,) = struct.unpack_from("<Q", raw, at + ksize)
                start = first * page_size + _PAGE_HEAD.size
                if first < 2 or start + size > len(raw):
                    continue
                value = raw[start : start + size]
            else:
                value = raw[at + ksize : at + ksize + size]
                if len(value) != size:
                    continue
            yield key, value


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--salvage":
        src, dest = Path(args[1]), Path(args[2])
        start = int(args[3]) if len(args) > 3 else None
        kept, lost = salvage(src, dest, start)
        print(f"kept {kept} lost {lost}")
        return
    if args and args[0] == "--index":
        state, n, why = check_index(Path(args[1]))
    else:
        state, n, why = check_state(Path(args[0]))
    print(f"ok {n}" if state == "ok" else f"{state} {why}")


if __name__ == "__main__":
    main()
