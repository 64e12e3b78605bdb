"""The search index catches up in a detached process started by the shell, not on its prompt path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from delta_core.context import DeltaContext
from tests.conftest import make_record, wait_for
from xontrib_delta.indexer import BackgroundIndexer


def _env(delta_home) -> dict[str, str]:
    env = dict(os.environ)
    env["DELTA_HOME"] = str(delta_home)
    env["DELTA_SEARCH_EMBEDDER"] = "hashing"  # no model download, fast
    return env


def _search(env, text):
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from delta_core.cli import main; main()",
            "search",
            text,
            "--no-sync",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return (
        [h["command"] for h in json.loads(out.stdout)["hits"]]
        if out.returncode == 0
        else out.stderr
    )


def test_catch_up_runs_detached_and_indexes_new_commands(delta_home):
    ctx = DeltaContext()
    ctx.store.add_many([make_record(i, command=f"rsync -av backup{i} /mnt") for i in range(20)])
    ctx.close()
    env = _env(delta_home)
    indexer = BackgroundIndexer(lambda: env, interval=0.01)
    assert not indexer.maybe_start()  # nothing recorded since the shell started
    indexer.command_recorded()
    time.sleep(0.05)
    assert indexer.maybe_start()
    assert wait_for(lambda: indexer.child is not None, 10)
    child = indexer.child
    assert os.getsid(child.pid) != os.getsid(0)  # its own session: Ctrl-C at the prompt spares it
    child.wait(timeout=300)
    assert child.returncode == 0
    hits = _search(env, "rsync backup7")
    assert isinstance(hits, list) and "rsync -av backup7 /mnt" in hits


def test_switched_off_by_config(delta_home):
    env = _env(delta_home)
    env["DELTA_SEARCH_BACKGROUND_INTERVAL"] = "0"
    indexer = BackgroundIndexer(lambda: env)
    indexer.command_recorded()
    assert not indexer.maybe_start()
    assert indexer.child is None
