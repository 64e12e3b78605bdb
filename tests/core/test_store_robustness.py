"""The store under stress, on real LMDB files: concurrent writers, SIGKILL, corruption, growth."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from delta_core.memory.lmdb_env import read_txn
from delta_core.memory.store import Store
from tests.conftest import make_record

WRITER = Path(__file__).with_name("store_writer.py")


def _writer(root: Path, writer: int, count: int, map_mb: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(root), str(writer), str(count), str(map_mb)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _index_snapshot(store: Store):
    with read_txn(store.index.env) as txn:
        return store.index.snapshot(txn)


def test_eight_processes_write_forty_thousand_records(tmp_path):
    procs = [_writer(tmp_path, w, 5000) for w in range(8)]
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    store = Store(tmp_path)
    recs = list(store.iter_records())
    assert len(recs) == 40_000
    assert len({r.id for r in recs}) == 40_000
    seen = {(r.session, r.command.split()[3]) for r in recs}
    assert seen == {(f"writer-{w}", str(i)) for w in range(8) for i in range(5000)}
    # the map started at 1 MiB and grew while eight processes wrote
    assert store.shard(store.days()[0], create=False).info()["map_size"] > 1024 * 1024
    incremental = _index_snapshot(store)
    store.reindex()
    assert _index_snapshot(store) == incremental


def test_sigkill_at_random_moments_loses_nothing_committed(tmp_path):
    rng = random.Random(7)
    committed: dict[int, int] = {}
    for round_ in range(15):
        p = _writer(tmp_path, round_, 100_000)
        time.sleep(rng.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
        lines = [ln for ln in out.splitlines() if ln.startswith("ok ")]
        committed[round_] = len(lines)
    assert sum(committed.values()) > 0
    store = Store(tmp_path)
    have: dict[str, set[int]] = {}
    for r in store.iter_records():
        have.setdefault(r.session, set()).add(int(r.command.split()[3]))
    for round_, n in committed.items():
        got = have.get(f"writer-{round_}", set())
        # every record reported committed is there; at most the one in flight is extra
        assert set(range(n)) <= got, f"round {round_} lost records"
        assert len(got) <= n + 1
    report = store.verify()
    assert not report.bad
    after_verify = _index_snapshot(store)
    store.reindex()
    assert _index_snapshot(store) == after_verify


def _fill_days(store: Store, days: int, per_day: int) -> None:
    base = 1_764_000_000_000_000_000
    store.add_many(
        make_record(i, start_ns=base + d * 86_400_000_000_000, command=f"day{d} cmd {i}")
        for d in range(days)
        for i in range(per_day)
    )


def test_corrupted_shards_are_quarantined_and_other_days_stay_readable(tmp_path):
    store = Store(tmp_path)
    _fill_days(store, 4, 300)
    days = store.days()
    used = {d: (store.shard(d, create=False).info()["last_pgno"] + 1) * 4096 for d in days}
    store.close()
    flipped, truncated, meta = days[0], days[1], days[2]
    # overwrite bytes inside stored records (found by their text)
    data = tmp_path / "memory/shards" / flipped / "data.mdb"
    raw = bytearray(data.read_bytes())
    pos = raw.find(f"{flipped and 'day0'} cmd 150".encode())
    assert pos > 0
    raw[pos : pos + 8] = b"\xff" * 8
    data.write_bytes(bytes(raw))
    # cut a file in half (the pages in use; the rest of the map is sparse)
    data = tmp_path / "memory/shards" / truncated / "data.mdb"
    data.write_bytes(data.read_bytes()[: used[truncated] // 2])
    # destroy the meta pages
    data = tmp_path / "memory/shards" / meta / "data.mdb"
    raw = bytearray(data.read_bytes())
    raw[0:8192] = os.urandom(8192)
    data.write_bytes(bytes(raw))

    store = Store(tmp_path)
    report = store.verify()
    assert set(report.bad) == {flipped, truncated, meta}
    assert set(report.quarantined) == {flipped, truncated, meta}
    for p in report.quarantined.values():
        assert p.is_dir() and p.parent == tmp_path / "memory/quarantine"
    # the intact records of a damaged day are salvaged into a fresh shard (issue 14)
    kept = {d: k for d, (k, _) in report.salvaged.items()}
    assert kept[flipped] == 299 and report.salvaged[flipped][1] == 1
    assert store.days() == sorted([days[3], *(d for d, k in kept.items() if k)])
    assert sum(1 for _ in store.iter_records()) == 300 + sum(kept.values())
    assert store.verify().healthy


def test_reading_a_damaged_shard_reports_and_continues(tmp_path, capsys):
    store = Store(tmp_path)
    _fill_days(store, 2, 50)
    first = store.days()[0]
    store.close()
    data = tmp_path / "memory/shards" / first / "data.mdb"
    raw = bytearray(data.read_bytes())
    pos = raw.find(b"day0 cmd 10")
    raw[pos : pos + 4] = b"\x00\x01\x02\x03"
    data.write_bytes(bytes(raw))
    got = list(Store(tmp_path).iter_records())
    assert [r.command for r in got if r.command.startswith("day1")] == [
        f"day1 cmd {i}" for i in range(50)
    ]
    assert "damaged" in capsys.readouterr().err


def test_full_map_grows_without_losing_data(tmp_path):
    store = Store(tmp_path, map_size_mb=1)
    big = "y" * 2000
    for chunk in range(5):
        store.add_many(
            make_record(chunk * 1000 + i, command=f"{big} {chunk} {i}") for i in range(1000)
        )
    env = store.shard(store.days()[0], create=False)
    assert env.info()["map_size"] >= 8 * 1024 * 1024
    assert store.count() == 5000
    assert {r.command for r in store.iter_records()} == {
        f"{big} {c} {i}" for c in range(5) for i in range(1000)
    }


def test_files_are_private(tmp_path):
    store = Store(tmp_path / "root")
    _fill_days(store, 2, 10)
    store.forget(lambda c: c.endswith(" 3"))
    store.close()
    for p in [tmp_path / "root", *(tmp_path / "root").rglob("*")]:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o700 if p.is_dir() else 0o600), p


def test_forget_removes_text_from_every_file(tmp_path):
    store = Store(tmp_path)
    secretish = "curl https://example.com/forget-me-7f3a9"
    store.add_many([make_record(i) for i in range(200)] + [make_record(500, command=secretish)])
    assert store.forget(lambda c: "forget-me" in c) == 1
    store.close()
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert b"forget-me-7f3a9" not in f.read_bytes(), f
    assert Store(tmp_path).count() == 200


def test_reindex_equals_incremental_after_mixed_writes(tmp_path):
    store = Store(tmp_path)
    store.add_many(
        make_record(i, command=f"cmd {i % 37}", session=f"s{i % 5}") for i in range(3000)
    )
    for i in range(3000, 3100):
        store.add(make_record(i, command=f"cmd {i % 41}", cwd=f"/d{i % 3}"))
    again = store.add_many(
        make_record(i, command=f"cmd {i % 37}", session=f"s{i % 5}") for i in range(100)
    )
    assert (again.added, again.duplicates) == (0, 100)
    incremental = _index_snapshot(store)
    assert store.reindex() == 3100
    assert _index_snapshot(store) == incremental


def test_streaming_a_large_store_uses_bounded_memory(tmp_path):
    import tracemalloc

    store = Store(tmp_path)
    base = 1_764_000_000_000_000_000
    for chunk in range(10):
        store.add_many(
            make_record(i, start_ns=base + chunk * 3_600_000_000_000, command=f"cmd {chunk} {i}")
            for i in range(30_000)
        )

    def peak(limit: int) -> int:
        tracemalloc.start()
        for n, _ in enumerate(store.iter_records(), 1):
            if n >= limit:
                break
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    small, full = peak(3_000), peak(300_000)
    assert full < small * 2 + 1_000_000


def test_time_range_and_reverse_scans(tmp_path):
    store = Store(tmp_path)
    _fill_days(store, 3, 100)
    recs = list(store.iter_records())
    mid = recs[150].start_ns
    later = list(store.iter_records(since_ns=mid))
    assert later == recs[150:]
    earlier = list(store.iter_records(until_ns=mid, reverse=True))
    assert earlier == list(reversed(recs[:151]))


def test_recording_into_a_damaged_day_quarantines_it_and_goes_on(tmp_path, capsys):
    store = Store(tmp_path)
    store.add(make_record(0, start_ns=time.time_ns()))
    day = store.days()[0]
    store.close()
    (tmp_path / "memory/shards" / day / "data.mdb").write_bytes(os.urandom(64 * 1024))
    store = Store(tmp_path)
    assert store.add(make_record(1, start_ns=time.time_ns(), command="after the damage"))
    assert [r.command for r in store.iter_records()] == ["after the damage"]
    assert len(list((tmp_path / "memory/quarantine").iterdir())) == 1
    assert "moved to" in capsys.readouterr().err
