"""A writer process for the concurrency and crash tests: records N commands, one per transaction.

Usage: python store_writer.py ROOT WRITER_ID COUNT [MAP_SIZE_MB]
Prints ``ok <i>`` after each record is committed, so a test knows exactly what was committed
before it killed this process.
"""

from __future__ import annotations

import sys
import time

from delta_core.memory.store import Store
from delta_core.records.record import Record


def main() -> None:
    root, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    map_mb = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    store = Store(root, map_size_mb=map_mb)
    base = time.time_ns()
    for i in range(count):
        rec = Record(
            command=f"writer {writer} command {i} " + "x" * (i % 200),
            start_ns=base + i,
            cwd=f"/w/{writer}",
            exit=i % 3,
            session=f"writer-{writer}",
            host="h",
            user="u",
            shell="test",
        )
        store.add(rec)
        sys.stdout.write(f"ok {i}\n")
        sys.stdout.flush()
    store.close()


if __name__ == "__main__":
    main()
