"""``delta serve`` where the server cannot start: the detached start fails at once with the
server's own reason, and the foreground prints that reason once (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from delta_core.learn.deploy import promote
from delta_core.learn.registry import register_model
from delta_core.paths import Layout

DELTA = [sys.executable, "-c", "from delta_core.cli import main; main()"]


def _delta(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DELTA, *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def test_detach_with_no_model_promoted_fails_with_the_reason_and_starts_nothing(delta_home):
    run = _delta("serve", "--detach")
    assert run.returncode == 1
    assert run.stderr.strip() == "Error: no model is promoted yet; train one with `delta-train`"
    assert (
        not (delta_home / "delta.log").exists()
        or "serve" not in (delta_home / "delta.log").read_text()
    )


def test_foreground_with_no_model_says_so_once(delta_home):
    run = _delta("serve")
    assert run.returncode == 1
    assert run.stderr.count("no model is promoted yet") == 1, run.stderr
    assert "Traceback" not in run.stderr


def test_detach_of_a_model_that_cannot_load_reports_the_servers_reason(tmp_path, delta_home):
    """A promoted model whose weights are not a checkpoint: the child exits, and the start
    says so from the log line it wrote instead of waiting for an answer that never comes."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "model.pt").write_bytes(b"not a checkpoint")
    (run_dir / "config.json").write_text(
        json.dumps({"model": {"vocab_size": 259}, "train": {"model_size": "tiny"}, "dataset": {}})
    )
    (run_dir / "metrics.json").write_text(json.dumps({"params": 1, "steps": 0}))
    layout = Layout(delta_home)
    info = register_model(layout, run_dir, trainer="test")
    promote(layout, info.version, backend="torch")
    run = _delta("serve", "--detach", "--backend", "torch")
    assert run.returncode == 1
    assert "the server did not start: cannot serve the model" in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    fg = _delta("serve", "--backend", "torch")
    assert fg.returncode == 1 and fg.stderr.count("cannot serve the model") == 1, fg.stderr
