"""The search side of ``delta serve``, for real: a server process over a real memory, the CLI
asking it (and falling back to in-process when it is absent), catch-up of new commands, bad
requests. Uses the model-free ``hashing`` embedder; no suggestion model is promoted, so the
server runs for search alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from delta_core.memory.store import Store
from delta_core.paths import Layout
from delta_core.records.record import Record
from delta_core.serve.protocol import Client, socket_path
from tests.conftest import wait_for
from tests.core.serve_helpers import server_env

pytest.importorskip("usearch")
DELTA = [sys.executable, "-c", "from delta_core.cli import main; main()"]


def _env(root: Path, **extra: str) -> dict[str, str]:
    return server_env(root, DELTA_SEARCH_EMBEDDER="hashing", **extra)


def _add(root: Path, cmds: list[str], start: int = 0) -> None:
    now = time.time_ns() - 3600 * 10**9
    with Store(root) as store:
        store.add_many(
            Record(c, now + (start + i) * 10**9, cwd="/src", exit=0, session="s")
            for i, c in enumerate(cmds)
        )


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "delta"
    _add(root, ["git init", "git status", "make test", 'delta search "git init"'])
    env = _env(root)
    subprocess.run([*DELTA, "search", "--sync"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "delta_core.serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    path = socket_path(Layout(root), env={})
    assert wait_for(lambda: path.exists() or proc.poll() is not None, 60), "server did not start"
    assert proc.poll() is None, proc.stderr.read()
    yield root, path, env
    proc.terminate()
    proc.wait(10)


def _cli(env, *args) -> dict:
    out = subprocess.run(
        [*DELTA, "search", *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_search_op_answers_without_a_model_and_keeps_delta_out(served):
    path = served[1]
    c = Client(path, timeout=10)
    got = c.call({"op": "search", "query": "git init", "limit": 5}, 30)
    assert got["ok"], got
    cmds = [h["command"] for h in got["hits"]]
    assert cmds[0] == "git init" and not any(x.startswith("delta") for x in cmds)
    assert c.call({"op": "suggest", "prefix": "g", "cwd": "/"}, 10) == {
        "id": 2,
        "ok": False,
        "error": "no model is promoted yet",
    }
    bad = c.call({"op": "search", "query": 7}, 10)
    assert not bad["ok"] and bad["error"].startswith("bad request")
    assert c.call({"op": "search", "query": "make", "limit": 0}, 10)["ok"] is False
    assert c.call({"op": "status"}, 10)["searches"] == 1  # the connection survived
    c.close()


def test_cli_asks_the_server_and_answers_alike_without_it(served):
    _root, path, env = served
    via_server = _cli(env, "git", "init")
    in_process = _cli({**env, "DELTA_SEARCH_SERVER": "0"}, "git", "init")
    assert via_server == in_process
    assert via_server["hits"][0]["before"] == [] and via_server["hits"][0]["after"] == [
        "git status"
    ]
    c = Client(path, timeout=10)
    assert c.call({"op": "status"}, 10)["searches"] == 1  # only the first one came here
    c.close()


def test_new_commands_are_caught_up_by_the_server(served):
    root, path, env = served
    _add(root, ["docker build -t web ."], start=10)
    hits = _cli(env, "docker", "build")["hits"]  # sync is the default: the server embeds it
    assert hits[0]["command"] == "docker build -t web ."
    c = Client(path, timeout=10)
    assert c.call({"op": "status"}, 10)["searches"] == 1
    c.close()
