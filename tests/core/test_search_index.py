"""The search index follows the store: new commands in, forgotten/pruned/redacted ones out.

Uses the model-free ``hashing`` embedder so that every test runs in milliseconds; the MiniLM
embedder has its own tests in tests/plugins/test_embed_minilm.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from delta_plugins.embed_hashing import HashingEmbedder

from delta_core.memory.store import Store
from delta_core.records.record import Record
from delta_core.search.hybrid import Searcher
from delta_core.search.meaning import Purposes
from delta_core.search.state import SearchState, search_dir
from delta_core.search.sync import open_state, sync

pytest.importorskip("usearch")
DAY = 86_400 * 10**9
EMB = HashingEmbedder()


def rec(cmd: str, t_ns: int, **kw) -> Record:
    return Record(
        cmd,
        t_ns,
        cwd=kw.pop("cwd", "/home/ada/app"),
        exit=kw.pop("exit", 0),
        session=kw.pop("session", "s1"),
        **kw,
    )


def refresh(store: Store):
    """One catch-up as `delta search` does it: load, sync, save; the state as reloaded."""
    st = open_state(store.layout.root, EMB)
    report = sync(store, st, EMB, Purposes(None))
    if report.changed or st.gen == 0:
        st.save(search_dir(store.layout.root, EMB.name))
    return report, SearchState.load(search_dir(store.layout.root, EMB.name))


def found(state, query: str, **kw) -> list[str]:
    return [h.command for h in Searcher(state, EMB).search(query, limit=20, **kw)]


@pytest.fixture
def store(delta_home):
    s = Store(delta_home)
    yield s
    s.close()


def test_new_commands_are_embedded_once_and_become_searchable(store):
    now = time.time_ns()
    store.add_many([rec("docker build -t web .", now), rec("git status", now + 1)])
    report, st = refresh(store)
    assert report.embedded == 2 and report.records_added == 2
    assert found(st, "docker build")[0] == "docker build -t web ."

    store.add_many([rec("git status", now + 2), rec("kubectl get pods", now + 3)])
    report, st = refresh(store)
    # `git status` is already known: only the new text is embedded; both records are indexed
    assert report.embedded == 1 and report.records_added == 4 - 2 + 2
    assert len(st) == 4
    assert found(st, "kubectl pods")[0] == "kubectl get pods"
    hit = Searcher(st, EMB).search("git status", limit=1)[0]
    assert hit.count == 2

    report, _ = refresh(store)  # nothing new: nothing to do
    assert not report.changed and report.embedded == 0


def test_old_history_imported_later_is_indexed(store):
    now = time.time_ns()
    store.add(rec("make test", now))
    refresh(store)
    store.add_many([rec("terraform apply", now - 40 * DAY)])  # a backfilled day
    _, st = refresh(store)
    assert "terraform apply" in found(st, "terraform")


def test_forget_removes_records_vectors_and_text(store):
    now = time.time_ns()
    store.add_many([rec("curl https://internal.example/api", now), rec("ls -la", now + 1)])
    _, st = refresh(store)
    label = st.label_of()["curl https://internal.example/api"]
    assert st.vectors.contains(label)

    assert store.forget(lambda c: "internal.example" in c) == 1
    report, st = refresh(store)
    assert report.records_removed >= 1 and report.vectors_removed == 1
    assert not st.vectors.contains(label)
    assert "curl https://internal.example/api" not in found(st, "curl internal example api")
    d = search_dir(store.layout.root, EMB.name)
    for f in d.iterdir():  # the forgotten text is in no file of the search state
        assert b"internal.example" not in f.read_bytes(), f.name
    assert found(st, "ls") == ["ls -la"]


def test_redaction_replaces_the_text(store):
    now = time.time_ns()
    store.add(rec("mysql -u root -phunter2 prod", now))
    refresh(store)
    store.rewrite(lambda r: r.with_command(r.command.replace("hunter2", "<redacted>")))
    _, st = refresh(store)
    assert found(st, "mysql") == ["mysql -u root -p<redacted> prod"]
    assert all("hunter2" not in c for c in st.commands)


def test_pruned_days_leave_the_index(store):
    now = time.time_ns()
    store.add_many([rec("old-tool --run", now - 400 * DAY), rec("new-tool --run", now)])
    _, st = refresh(store)
    assert set(found(st, "tool run")) == {"old-tool --run", "new-tool --run"}
    assert store.prune_older_than(365) == 1
    report, st = refresh(store)
    assert report.records_removed == 1
    assert found(st, "tool run") == ["new-tool --run"]


def test_rebuild_from_shards_gives_the_same_answers(store):
    now = time.time_ns()
    cmds = [f"pytest tests/test_{i}.py -k case{i % 3}" for i in range(30)] + ["git push"]
    store.add_many([rec(c, now + i) for i, c in enumerate(cmds)])
    _, st = refresh(store)
    before = found(st, "pytest case2")
    fresh = open_state(store.layout.root, EMB, rebuild=True)
    sync(store, fresh, EMB, Purposes(None))
    # the same commands come first (order among exact ties may differ: labels are
    # reassigned; past the ten clear matches the approximate graph may differ too, and the
    # cosine now counts in the score, so only the clear matches are compared)
    want = {c for c in cmds if c.endswith("case2")}
    assert set(found(fresh, "pytest case2")[:10]) == set(before[:10]) == want
    assert sorted(c for c in fresh.commands if c) == sorted(set(cmds))


def test_a_damaged_state_is_rebuilt_not_fatal(store):
    store.add(rec("htop", time.time_ns()))
    refresh(store)
    d = search_dir(store.layout.root, EMB.name)
    (d / "current").write_text("not a number")
    assert SearchState.load(d) is None
    _, st = refresh(store)
    assert found(st, "htop") == ["htop"]


def test_filters_cwd_since_exit_and_context(store):
    now = time.time_ns()
    store.add_many(
        [
            rec("npm run build", now - 10 * DAY, cwd="/srv/web", exit=0),
            rec("npm run build", now - 5 * DAY, cwd="/srv/api", exit=2),
            rec("npm run lint", now - 1 * DAY, cwd="/srv/web", exit=0),
        ]
    )
    _, st = refresh(store)
    s = Searcher(st, EMB)
    assert [h.command for h in s.search("npm run", cwd="/srv/api")] == ["npm run build"]
    assert [h.command for h in s.search("npm run", since_ns=now - 2 * DAY)] == ["npm run lint"]
    hit = s.search("npm build", exit=2)[0]
    assert (hit.command, hit.exit, hit.cwd) == ("npm run build", 2, "/srv/api")
    # without filters the hit is shown through its most recent record
    assert s.search("npm run build", limit=1)[0].cwd == "/srv/api"


def test_state_files_are_private(store):
    store.add(rec("whoami", time.time_ns()))
    refresh(store)
    d = search_dir(store.layout.root, EMB.name)
    assert d.stat().st_mode & 0o777 == 0o700
    for f in d.iterdir():
        assert f.stat().st_mode & 0o777 == 0o600, f.name


def test_vector_index_recall_against_exact_search(tmp_path):
    from delta_core.search.vectors import VectorIndex

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 64)).astype(np.float32)
    x = centres[rng.integers(0, 50, 3000)] + 0.3 * rng.standard_normal((3000, 64)).astype(
        np.float32
    )
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ix = VectorIndex(64)
    ix.add(np.arange(3000), x)
    ix.save(tmp_path / "v.usearch")
    ix = VectorIndex.load(tmp_path / "v.usearch", 64, view=True)
    q = x[:50] + 0.05 * rng.standard_normal((50, 64)).astype(np.float32)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :10]
    got = ix.search_many(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)])
    assert recall >= 0.9  # int8 storage and near ties cost a little; see benchmarks/vector_index.py


def test_a_huge_word_does_not_blow_up_the_saved_state(store):
    now = time.time_ns()
    blob = "a" * 5000  # one pasted base64 line in a history
    store.add_many(
        [rec(f"echo {blob}", now)] + [rec(f"ls dir{i}", now + 1 + i) for i in range(2000)]
    )
    _, st = refresh(store)
    size = sum(p.stat().st_size for p in search_dir(store.layout.root, EMB.name).iterdir())
    assert size < 5_000_000  # a fixed-width term array would be 2,001 x 5,000 x 4 B = 40 MB
    assert found(st, "dir7")[0] == "ls dir7" and found(st, blob[:10] + "a")  # still searchable


def test_typed_matches_are_every_container_shortest_first(store):
    now = time.time_ns()
    cmds = [f"make target{i} " + "x" * (i % 13) for i in range(3000)] + ["MAKE Target7 again"]
    store.add_many([rec(c, now + i) for i, c in enumerate(cmds)])
    _, st = refresh(store)
    s = Searcher(st, EMB)
    texts, _own = s._matchable()
    allowed = np.ones(len(st.commands), dtype=bool)
    for q in ("target7", "make", "x" * 12, "nothing-like-it", "target29"):
        naive = sorted((len(t), i) for i, t in enumerate(texts) if q in t)[:100]
        assert s._containing(q, allowed).tolist() == [i for _, i in naive], q
    allowed[::2] = False  # a filter: only odd labels may match
    got = s._containing("make", allowed).tolist()
    assert got and all(i % 2 for i in got) and len(got) == 100


def test_a_hit_whose_key_ends_in_a_zero_byte_finds_its_record_and_context(store):
    # numpy's fixed-width bytes drop trailing zeros: one key in 256 ends in 0x00, and its hit
    # came back one byte short, so `delta search` crashed looking up the commands around it
    from delta_core.records import codec
    from delta_core.search.service import find_record, neighbours

    now = time.time_ns()
    store.add_many(
        [
            rec("cd ~/web", now, id="11" * 7 + "01"),
            rec("docker build -t web:2 .", now + 1, id="22" * 7 + "00"),
            rec("docker push web:2", now + 2, id="33" * 7 + "02"),
        ]
    )
    _, st = refresh(store)
    hit = Searcher(st, EMB).search("docker build", limit=1)[0]
    assert len(hit.key) == codec.KEY_SIZE and hit.key.endswith(b"\0")
    assert find_record(store, hit.key).command == "docker build -t web:2 ."
    before, after = neighbours(store, hit)
    assert [r.command for r in before] == ["cd ~/web"]
    assert [r.command for r in after] == ["docker push web:2"]
