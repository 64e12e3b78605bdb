"""Checking one day shard in a separate process.

A damaged LMDB file can crash the process that reads it, so ``verify`` opens each shard here,
in a child process, and treats a crash like any other corruption.
Run as ``python -m delta_core.memory.shard_check PATH``: prints ``ok N`` or ``bad REASON``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lmdb

from delta_core.records import codec


def check(path: Path) -> tuple[bool, int, str]:
    """Walk every record: keys in order, values decodable with a valid checksum."""
    if not (path / "data.mdb").is_file():
        return False, 0, "data.mdb is missing"
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, subdir=True, create=False)
    except lmdb.Error as exc:
        return False, 0, f"cannot open: {exc}"
    n = 0
    try:
        with env.begin(buffers=False) as txn:
            prev = b""
            for key, value in txn.cursor():
                if len(key) != 16 or key <= prev:
                    return False, n, f"bad key after {n} records"
                rec = codec.decode(value, key)
                if codec.record_key(rec) != key:
                    return False, n, f"record {n} does not match its key"
                prev = key
                n += 1
    except (lmdb.Error, codec.CodecError) as exc:
        return False, n, f"after {n} records: {exc}"
    finally:
        env.close()
    return True, n, ""


def main() -> None:
    ok, n, why = check(Path(sys.argv[1]))
    print(f"ok {n}" if ok else f"bad {why}")


if __name__ == "__main__":
    main()
