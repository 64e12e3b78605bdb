"""The successor table: which command followed which, kept incrementally and equal to a rebuild."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_core.lmdb_env import read_txn
from delta_core.store import Store
from tests.conftest import make_record


def _succ(store: Store, prev: str, prefix: str = "") -> dict[str, int]:
    with read_txn(store.index.env) as txn:
        return {c: n for c, n, _ in store.index.successors(txn, prev, prefix)}


def _snapshot(store: Store):
    with read_txn(store.index.env) as txn:
        return store.index.snapshot(txn)


def test_successors_follow_sessions_not_the_global_order(tmp_path):
    store = Store(tmp_path)
    # two sessions interleaved in time: pairs only form within a session
    cmds = [
        ("s1", "git status"),
        ("s2", "ls"),
        ("s1", "git add ."),
        ("s2", "make"),
        ("s1", "git status"),
        ("s1", "git add ."),
        ("s1", "git status"),
        ("s1", "git commit"),
    ]
    store.add_many(make_record(i, command=c, session=s) for i, (s, c) in enumerate(cmds))
    assert _succ(store, "git status") == {"git add .": 2, "git commit": 1}
    assert _succ(store, "git status", "git c") == {"git commit": 1}
    assert _succ(store, "ls") == {"make": 1}
    assert _succ(store, "git") == {}  # a prefix of a command is not that command
    store.close()


def test_successors_continue_across_single_adds(tmp_path):
    store = Store(tmp_path)
    store.add(make_record(0, command="cd src"))
    store.add(make_record(1, command="make"))
    store.add(make_record(2, command="cd src"))
    store.add(make_record(3, command="make"))
    assert _succ(store, "cd src") == {"make": 2}
    assert _succ(store, "make") == {"cd src": 1}
    store.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["ls", "make", "git st", "x" * 600])),
        min_size=1,
        max_size=60,
    ),
    st.lists(st.integers(1, 20), min_size=1, max_size=8),
)
def test_incremental_equals_reindex_for_any_batching(tmp_path_factory, items, cuts):
    store = Store(tmp_path_factory.mktemp("succ"))
    recs = [make_record(i, command=c, session=s) for i, (s, c) in enumerate(items)]
    pos = 0
    for n in cuts * 10:
        if pos >= len(recs):
            break
        store.add_many(recs[pos : pos + n])
        pos += n
    store.add_many(recs[pos:])
    incremental = _snapshot(store)
    store.reindex()
    assert _snapshot(store) == incremental
    store.close()
