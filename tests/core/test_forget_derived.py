"""Forgetting reaches what was derived from the history: tokenizers, datasets, models, search."""

from __future__ import annotations

import json

import lmdb

from delta_core.cli.derived import needles, scrub
from delta_core.memory.lmdb_env import MAX_DBS, compact_and_close, open_env
from delta_core.paths import Layout

SECRET = "Xq9vT2mZ7kLp4RwB"


def _derived_tree(root):
    lay = Layout(root)
    tok = lay.tokenizer / "sentencepiece-abc"
    tok.mkdir(parents=True)
    (tok / "spm.model").write_bytes(b"\x0a\x08" + SECRET[3:12].encode() + b"\x15")  # a piece
    (tok / "tokenizer_config.json").write_text("{}")
    (lay.tokenizer / "active").write_text("sentencepiece-abc\n")
    clean = lay.tokenizer / "sentencepiece-def"
    clean.mkdir()
    (clean / "spm.model").write_bytes(b"ls\x15git")
    ds = lay.datasets / "default"
    ds.mkdir(parents=True)
    (ds / "val.bin").write_bytes(b"\x00echo " + SECRET.encode())
    model = lay.models / "v1"
    (model / "tokenizer").mkdir(parents=True)
    (model / "tokenizer" / "spm.model").write_bytes(SECRET.encode())
    (model / "weights.pt").write_bytes(b"\x00" * 64)
    search = root / "search" / "hashing"
    search.mkdir(parents=True)
    (search / "state-1.npz").write_bytes(b"PK" + SECRET.encode())
    (root / "run").mkdir()
    (root / "run" / "last-suggestion-42").write_text(f"echo {SECRET}")
    return lay


def test_scrub_removes_the_text_from_every_derived_file_and_says_what(tmp_path):
    lay = _derived_tree(tmp_path)
    touched = scrub(lay, [SECRET])
    assert {t.kind for t in touched} == {"tokenizer", "dataset", "model", "search", "shell"}
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not any(n in data for n in needles([SECRET])), f
    assert (lay.tokenizer / "sentencepiece-def" / "spm.model").exists()  # held none of it
    assert not (lay.tokenizer / "active").exists()  # it named the deleted version
    assert json.loads((lay.tokenizer / "stale.json").read_text())["removed"] == [
        "sentencepiece-abc"
    ]
    flag = json.loads((lay.models / "v1" / "needs_retraining.json").read_text())
    assert flag["files_removed"] == ["tokenizer/spm.model"]
    assert (lay.models / "v1" / "weights.pt").exists()
    assert all(SECRET not in str(t) for t in touched)


def test_scrub_of_text_found_nowhere_touches_nothing(tmp_path):
    lay = _derived_tree(tmp_path)
    assert scrub(lay, ["nothing-like-this-anywhere"]) == []
    assert scrub(lay, []) == []


def test_compaction_keeps_every_record_of_every_database(tmp_path):
    path = tmp_path / "env"
    env = open_env(path, 1 << 24, max_dbs=MAX_DBS)
    a = env.open_db(b"a")
    dups = env.open_db(b"dups", dupsort=True)
    with env.begin(write=True) as txn:
        for i in range(500):
            txn.put(b"k%05d" % i, b"v" * (i % 50), db=a)
            txn.put(b"same", b"%05d" % i, db=dups)
        txn.put(b"plain", b"main database record")
        for i in range(0, 500, 3):
            txn.delete(b"k%05d" % i, db=a)
    compact_and_close(env, path)
    env = lmdb.open(str(path), max_dbs=MAX_DBS)
    a = env.open_db(b"a")
    dups = env.open_db(b"dups", dupsort=True)
    with env.begin() as txn:
        assert [bytes(k) for k, _ in txn.cursor(db=a)] == [
            b"k%05d" % i for i in range(500) if i % 3
        ]
        assert len(list(txn.cursor(db=dups))) == 500
        assert txn.get(b"plain") == b"main database record"
    env.close()


def test_prune_filters_reapplies_the_whole_rule_set_everywhere(delta_home):
    """A record stored before a rule existed (here: a Telegram bot token, only in gitleaks'
    and the new built-in rules) is redacted by ``prune --filters``, and what was derived from
    it — a tokenizer, the search state — and the feedback on it are removed too."""
    from click.testing import CliRunner

    from delta_core.cli import build_cli
    from delta_core.context import DeltaContext
    from delta_core.memory.feedback import FeedbackEvent, iter_feedback, record_feedback
    from tests.conftest import make_record

    token = "123456789:AA" + "hdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    command = f"curl -s https://api.telegram.org/x -d bot={token}"
    store = DeltaContext().store
    store.add(make_record(1, command))  # stored as an older filter left it
    store.add(make_record(2, "ls -la"))
    record_feedback(store, [FeedbackEvent("accepted", command, source="history")])
    lay = _derived_tree(delta_home)
    (lay.tokenizer / "sentencepiece-abc" / "spm.model").write_bytes(token.encode())
    (delta_home / "search" / "hashing" / "state-1.npz").write_bytes(command.encode())

    out = CliRunner().invoke(build_cli(), ["memory", "prune", "--filters"]).output
    assert "re-filtered: 1 redacted, 0 dropped" in out, out
    assert "feedback: 1 events deleted" in out
    assert "tokenizer sentencepiece-abc: deleted" in out and "search hashing" in out
    assert iter_feedback(DeltaContext().store) == []
    for f in delta_home.rglob("*"):
        if f.is_file():
            assert token.encode() not in f.read_bytes(), f
    explained = CliRunner().invoke(build_cli(), ["memory", "explain", command]).output
    assert "telegram" in explained and "[built-in]" in explained
