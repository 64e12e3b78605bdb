"""Errors as a user reads them: one plain line, no exception class, no word said twice; a
fault nobody foresaw leaves its traceback in ``delta.log``, not on the terminal (issue 15)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

from delta_core.learn.registry import register_model
from delta_core.log import plain
from delta_core.paths import Layout
from xontrib_delta.aliases import run_cli

DELTA = [sys.executable, "-c", "from delta_core.cli import main; main()"]


def _broken_model(delta_home, tmp_path) -> str:
    """A registered model whose metrics.json was cut short on disk (a real fault)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"w")
    (run / "config.json").write_text(
        json.dumps({"model": {"vocab_size": 9}, "train": {"model_size": "tiny"}, "dataset": {}})
    )
    (run / "metrics.json").write_text(json.dumps({"params": 1, "steps": 0}))
    info = register_model(Layout(delta_home), run, trainer="test")
    (info.path / "metrics.json").write_text('{"params": 1, "ste')
    return info.version


def _no_class_names(text: str) -> None:
    assert "Traceback" not in text
    assert not re.search(r"\b\w+(Error|Exception)\b", text), text


def test_an_unforeseen_fault_is_one_plain_line_with_the_traceback_in_the_log(delta_home, tmp_path):
    version = _broken_model(delta_home, tmp_path)
    run = subprocess.run(
        [*DELTA, "model", "show", version],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(), check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("delta: ") and "delta.log" in run.stderr
    _no_class_names(run.stderr)
    logged = (delta_home / "delta.log").read_text()
    assert "Traceback" in logged and "JSONDecodeError" in logged


def test_the_shell_alias_says_it_the_same_way(delta_home, tmp_path):
    version = _broken_model(delta_home, tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(["model", "show", version], dict(os.environ), None, out, err)
    assert code == 1
    assert err.getvalue().count("\n") == 1, err.getvalue()
    _no_class_names(err.getvalue())


def test_plain_drops_class_names_and_never_returns_nothing():
    assert plain(RuntimeError("delta search needs usearch")) == "delta search needs usearch"
    assert plain(ValueError("ValueError: bad\n  value")) == "bad value"
    assert plain(KeyError()) == "an unexpected error"


def test_a_skipped_import_line_says_skipped_once(delta_home, tmp_path):
    bad = tmp_path / "h.jsonl"
    bad.write_bytes(b'{"command": "echo ok"}\n\xff\xfe garbage\n{"command": "echo last"}\n')
    run = subprocess.run(
        [*DELTA, "memory", "import", "--from", "jsonl", str(bad)],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(), check=False,
    )  # fmt: skip
    assert run.returncode == 1
    (line,) = [x for x in run.stderr.splitlines() if x.startswith(f"{bad}:2:")]
    assert line.removeprefix(f"{bad}:2:").count("skipped") == 1, line
    assert "not UTF-8" in line
