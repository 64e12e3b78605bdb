"""Shared fixtures: every test gets its own Delta root (``DELTA_HOME``); under ``CI=true``
a skipped test fails the run (``tests/ci_skips.py``)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

# usearch imported before onnxruntime makes onnxruntime's import crash or hang the process
# (see delta_core/search/vectors.py); test modules import usearch at collection, so load
# onnxruntime first, once, for the whole session.
with contextlib.suppress(ImportError):
    import onnxruntime  # noqa: F401

from ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401

from delta_core.records.record import Record

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def delta_home(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "delta"
    monkeypatch.setenv("DELTA_HOME", str(root))
    for var in list(os.environ):
        if var.startswith("DELTA_") and var != "DELTA_HOME":
            monkeypatch.delenv(var)
    # no detached search upgrade outliving a test (tests that want one set it back)
    monkeypatch.setenv("DELTA_SEARCH_BACKGROUND_INTERVAL", "0")
    return root


def make_record(i: int, command: str | None = None, **kw) -> Record:
    """A realistic record number ``i`` (one second apart, in a fixed session)."""
    base = kw.pop("start_ns", 1_764_000_000_000_000_000)
    return Record(
        command=command if command is not None else f"git commit -m 'change {i}'",
        start_ns=base + i * 1_000_000_000,
        cwd=kw.pop("cwd", f"/home/ada/project{i % 7}"),
        exit=kw.pop("exit", (i % 5 == 0 and 1) or 0),
        duration=kw.pop("duration", 0.01 * (i % 100)),
        session=kw.pop("session", "s1"),
        host=kw.pop("host", "laptop"),
        user=kw.pop("user", "ada"),
        shell=kw.pop("shell", "xonsh"),
        **kw,
    )


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
