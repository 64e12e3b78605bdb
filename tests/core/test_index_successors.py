"""The successor tables: which command followed which (and which pair of commands), kept
incrementally and equal to a rebuild."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_core.memory.lmdb_env import read_txn
from delta_core.memory.store import Store
from tests.conftest import make_record


def _succ(store: Store, prev: str, prefix: str = "") -> dict[str, int]:
    with read_txn(store.index.env) as txn:
        return {c: n for c, n, _ in store.index.successors(txn, prev, prefix)}


def _succ2(store: Store, before: str, prev: str, prefix: str = "") -> dict[str, int]:
    with read_txn(store.index.env) as txn:
        return {c: n for c, n, _ in store.index.successors2(txn, before, prev, prefix)}


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


def test_successors_of_two_commands_tell_apart_what_one_cannot(tmp_path):
    store = Store(tmp_path)
    # after "make", the next command depends on what came before it
    cmds = ["vim a.c", "make", "./a.out", "git diff", "make", "git commit"] * 2
    store.add_many(make_record(i, command=c, session="s1") for i, c in enumerate(cmds[:7]))
    for i, c in enumerate(cmds[7:], 7):  # the rest one by one, as the shell records them
        store.add(make_record(i, command=c, session="s1"))
    assert _succ(store, "make") == {"./a.out": 2, "git commit": 2}
    assert _succ2(store, "vim a.c", "make") == {"./a.out": 2}
    assert _succ2(store, "git diff", "make", "git") == {"git commit": 2}
    assert _succ2(store, "git commit", "vim a.c") == {"make": 1}  # across the repeat
    assert _succ2(store, "make", "vim a.c") == {}
    store.close()


def test_reindex_drops_the_old_tail_table(tmp_path):
    store = Store(tmp_path)
    store.add_many(make_record(i, command=c, session="s1") for i, c in enumerate("abcab"))
    env = store.index.env
    with env.begin(write=True) as txn:  # what a store written by an older version holds
        txn.put(b"s1", b"old tail", db=env.open_db(b"session_tails", txn=txn))
    before = _snapshot(store)
    store.reindex()
    with read_txn(store.index.env) as txn:
        assert txn.get(b"session_tails") is None
    assert _snapshot(store) == before
    assert _succ2(store, "a", "b") == {"c": 1}
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


def test_two_shells_writing_one_session_count_every_pair_and_triple(tmp_path):
    """Each store remembers what its last write implies; when the other store wrote in
    between, that memory must not be used (the counts would follow a stale command)."""
    a, b = Store(tmp_path), Store(tmp_path)
    cmds = ["cd src", "make", "make test", "git diff", "make", "make test", "git diff", "ls"]
    for i, cmd in enumerate(cmds):
        (a if i % 3 else b).add(make_record(i, command=cmd, session="shared"))
    b.close()
    assert _succ(a, "make") == {"make test": 2}
    assert _succ(a, "git diff") == {"make": 1, "ls": 1}
    assert _succ2(a, "make", "make test") == {"git diff": 2}
    assert _succ2(a, "git diff", "make") == {"make test": 1}
    assert _succ2(a, "make test", "git diff") == {"make": 1, "ls": 1}
    before = _snapshot(a)
    a.reindex()
    assert _snapshot(a) == before
    a.close()


def test_verify_rebuilds_an_index_an_older_version_wrote(tmp_path):
    """A store from before the two-command table: `delta memory verify` finds it and rebuilds,
    so the history recorded before the upgrade feeds the new table too."""
    store = Store(tmp_path)
    store.add_many(make_record(i, command=c, session="s1") for i, c in enumerate("abcab"))
    env = store.index.env
    with env.begin(write=True) as txn:  # as an older version left it: no successors2, old tails
        txn.drop(store.index.db[b"successors2"], delete=False)
        txn.put(b"s1", b"old tail", db=env.open_db(b"session_tails", txn=txn))
    assert _succ2(store, "a", "b") == {}
    report = store.verify()
    assert report.index_outdated and report.index_rebuilt and report.healthy
    assert _succ2(store, "a", "b") == {"c": 1}
    assert not store.verify().index_rebuilt  # once is enough
    store.close()
