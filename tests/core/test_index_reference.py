"""The index's derived tables equal what a plain, record-by-record reading of the rules gives.

The store folds batches over columns (and one record by a short path of its own); this test
replays the same records through a deliberately simple reference, written from the rules in
:mod:`delta_core.memory.index`'s docstring, for any batching, order, sessions, exits, cwds and zones.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_core.memory.index import _SESSION
from delta_core.memory.lmdb_env import read_txn
from delta_core.memory.store import Store
from delta_core.records.record import Record

T0 = 1_700_000_000 * 10**9
HOUR = 3600 * 10**9


def _count(table: dict, gram: tuple, start_ns: int) -> None:
    seen = table.setdefault(gram, [0, start_ns])
    seen[0] += 1
    seen[1] = max(seen[1], start_ns)


def reference(batches: list[list[Record]]):
    """commands, sessions, days, successors and successors of two as the rules define them."""
    commands: dict[str, list] = {}
    sessions: dict[str, list[int]] = {}
    days: dict[str, int] = {}
    pairs: dict[tuple[str, str], list[int]] = {}
    triples: dict[tuple[str, str, str], list[int]] = {}
    tails: dict[str, tuple[tuple, list[str]]] = {}  # the newest order, the last two commands
    for batch in batches:
        for r in batch:
            st_ = commands.setdefault(r.command, [0, 0, 0, r.start_ns, r.start_ns, r.cwd])
            st_[0] += 1
            st_[1] += r.exit == 0
            st_[2] += r.exit is not None and r.exit != 0
            st_[3] = min(st_[3], r.start_ns)
            if (r.start_ns, r.cwd) > (st_[4], st_[5]):
                st_[4], st_[5] = r.start_ns, r.cwd
            if r.session:
                s = sessions.setdefault(r.session, [r.start_ns, r.start_ns, 0])
                s[0], s[1], s[2] = min(s[0], r.start_ns), max(s[1], r.start_ns), s[2] + 1
            days[r.local_day] = days.get(r.local_day, 0) + 1
        # successors: per stream, in (day, start, id) order, only records newer than the tail
        streams: dict[str, list[Record]] = {}
        for r in batch:
            key = r.session or f"h:{r.host}|{r.user}|{r.shell}"
            streams.setdefault(key, []).append(r)
        for key, recs in streams.items():
            for r in sorted(recs, key=lambda r: (r.day_number, r.start_ns, r.id)):
                order = (r.day_number, r.start_ns, r.id)
                tail = tails.get(key)
                if tail is not None and order <= tail[0]:
                    continue
                last = tail[1] if tail is not None else []
                if len(last) >= 1:
                    _count(pairs, (last[-1], r.command), r.start_ns)
                if len(last) == 2:
                    _count(triples, (last[0], last[1], r.command), r.start_ns)
                tails[key] = (order, [*last[-1:], r.command])
    return (
        {c: tuple(v) for c, v in commands.items()},
        {s: tuple(v) for s, v in sessions.items()},
        days,
        {k: tuple(v) for k, v in pairs.items()},
        {k: tuple(v) for k, v in triples.items()},
    )


def actual(store: Store):
    index = store.index
    with read_txn(index.env) as txn:
        commands = {
            s.command: (s.count, s.successes, s.failures, s.first_ns, s.last_ns, s.last_cwd)
            for s in index.iter_commands(txn)
        }
        sessions = {k.decode(): _SESSION.unpack(v) for k, v in txn.cursor(db=index.db[b"sessions"])}
        days = index.day_counts(txn)
        pairs = {
            (prev, nxt): (n, last)
            for prev in commands
            for nxt, n, last in index.successors(txn, prev)
        }
        triples = {
            (before, prev, nxt): (n, last)
            for before in commands
            for prev in commands
            for nxt, n, last in index.successors2(txn, before, prev)
        }
    return commands, sessions, days, pairs, triples


records = st.lists(
    st.builds(
        lambda cmd, hour, cwd, status, session, host, offset: Record(
            cmd,
            T0 + hour * HOUR,
            cwd=cwd,
            exit=status,
            session=session,
            host=host,
            utc_offset=offset,
        ),
        st.sampled_from(["ls", "make", "git status", "é" * 3, "x" * 300]),
        st.integers(0, 60),  # hours: several days, ties, and records out of order
        st.sampled_from(["", "/a", "/b"]),
        st.sampled_from([None, 0, 1, 2]),
        st.sampled_from(["", "s1", "s2"]),
        st.sampled_from(["h1", "h2"]),
        st.sampled_from([0, 60, -300]),
    ),
    min_size=1,
    max_size=80,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records, st.lists(st.integers(1, 25), min_size=1, max_size=10))
def test_index_equals_the_reference_for_any_batching(tmp_path_factory, recs, cuts):
    from delta_core.records.codec import encode_with_key

    unique: dict[str, Record] = {}
    for r in recs:
        encode_with_key(r)  # gives the id the store will use
        unique.setdefault(r.id, r)  # the same record twice is stored once
    recs = list(unique.values())
    batches, pos = [], 0
    for n in cuts * 20:
        if pos >= len(recs):
            break
        batches.append(recs[pos : pos + n])
        pos += n
    if pos < len(recs):
        batches.append(recs[pos:])
    with Store(tmp_path_factory.mktemp("ref")) as store:
        for batch in batches:
            if len(batch) == 1:
                store.add(batch[0])  # the prompt path's own fold
            else:
                store.add_many(batch)
        got = actual(store)
    want = reference(batches)
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert got[2] == want[2]
    assert got[3] == want[3]
    assert got[4] == want[4]
