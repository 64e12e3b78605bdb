"""The search window's state, without a terminal: filter modes, the worker thread, choices.

Real store, real search state, the model-free ``hashing`` embedder.
"""

from __future__ import annotations

import threading
import time

import pytest
from delta_plugins.embed_hashing import HashingEmbedder

from delta_core.context import DeltaContext
from delta_core.memory.store import Store
from delta_core.records.record import Record
from delta_core.search.service import refresh
from delta_core.search.ui import FILTER_MODES, SearchSession, git_workspace

pytest.importorskip("usearch")
EMB = HashingEmbedder()


@pytest.fixture
def ctx(delta_home, tmp_path):
    work = tmp_path / "repo"
    (work / ".git").mkdir(parents=True)
    (work / "src").mkdir()
    now = time.time_ns() - 3600 * 10**9

    def r(cmd, i, **kw):
        kw.setdefault("cwd", "/srv")
        return Record(cmd, now + i * 10**9, exit=0, session=kw.pop("session", "s-old"), **kw)

    with Store(delta_home) as store:
        store.add_many(
            [
                r("make other-host", 0, host="far"),
                r("make this-host", 1, host="near"),
                r("make this-session", 2, host="near", session="s-now"),
                r("make repo-top", 3, host="near", cwd=str(work)),
                r("make repo-src", 4, host="near", cwd=str(work / "src")),
                r('delta search "make"', 5, host="near", session="s-now"),
            ]
        )
    c = DeltaContext()
    refresh(c, EMB)
    return c, work


def test_each_mode_filters_its_own_records(ctx):
    c, work = ctx
    s = SearchSession(c, EMB, here=str(work), host="near", session="s-now")
    seen = {}
    for _ in FILTER_MODES:
        s.update("make")
        seen[s.mode] = {h.command.split()[1] for h in s.hits}
        s.cycle_mode()
    assert s.mode == "global"  # a full cycle comes back
    assert seen == {
        "global": {"other-host", "this-host", "this-session", "repo-top", "repo-src"},
        "host": {"this-host", "this-session", "repo-top", "repo-src"},
        "session": {"this-session"},  # and never Delta's own `delta search "make"`
        "directory": {"repo-top"},
        "workspace": {"repo-top", "repo-src"},
    }


def test_searches_run_in_the_worker_not_in_the_keystroke(ctx):
    c, work = ctx
    s = SearchSession(c, EMB, here=str(work))
    ran = threading.Event()
    where = []
    s.on_hits = lambda: (where.append(threading.current_thread().name), ran.set())
    s.request("repo")
    assert ran.wait(10)
    assert where == ["delta-search"] and s.chosen() in ("make repo-src", "make repo-top")
    s.close()


def test_git_workspace(tmp_path):
    (tmp_path / "w" / ".git").mkdir(parents=True)
    (tmp_path / "w" / "a" / "b").mkdir(parents=True)
    assert git_workspace(str(tmp_path / "w" / "a" / "b")) == str((tmp_path / "w").resolve())
    assert git_workspace(str(tmp_path)) in (None, *map(str, tmp_path.resolve().parents))
