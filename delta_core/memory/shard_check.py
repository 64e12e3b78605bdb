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

import errno
import os
import sys
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
    the start time), so the records behind a damaged page are reached too. Each record is
    kept only when it decodes with a valid checksum and matches its key.
    """
    from delta_core.memory.lmdb_env import open_env, write_txn

    kept: dict[bytes, bytes] = {}
    broken = 0
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

    env = lmdb.open(str(src), readonly=True, lock=False, subdir=True, create=False)
    try:
        try:
            counted = env.stat()["entries"]
        except lmdb.Error:
            counted = None
        with env.begin(buffers=False) as txn:
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
    finally:
        env.close()
    out = open_env(dest, 8 * 1024 * 1024)
    try:
        rows = sorted(kept.items())
        write_txn(out, lambda txn: txn.cursor().putmulti(rows))
        out.sync(True)
    finally:
        out.close()
    lost = max(0, counted - len(kept)) if counted is not None else broken
    return len(kept), lost


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
