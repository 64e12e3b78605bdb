"""The no-silent-skip rule (``tests/ci_skips.py``) run on a throwaway test file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CASES = """
import pytest

def test_skipped_for_a_missing_package():
    pytest.importorskip("no_such_package_for_delta")

@pytest.mark.ci_may_skip("about the machine")
def test_skip_declared_about_the_machine():
    pytest.skip("this machine has GPUs")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    pass
"""


def _run(tmp_path: Path, ci: str, body: str = CASES) -> subprocess.CompletedProcess:
    (tmp_path / "test_cases.py").write_text(body)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "ci_skips",
         "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip


def test_under_ci_a_skip_for_a_missing_part_fails_and_a_declared_one_does_not(tmp_path):
    run = _run(tmp_path, "true")
    assert run.returncode == 1, run.stdout
    assert "FAILED test_cases.py::test_skipped_for_a_missing_package" in run.stdout
    assert "no_such_package_for_delta" in run.stdout and "skipped under CI=true" in run.stdout
    assert "SKIPPED" in run.stdout and "this machine has GPUs" in run.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in run.stdout


def test_under_ci_a_module_skipped_at_collection_fails(tmp_path):
    body = 'import pytest\npytest.importorskip("no_such_package_for_delta")\n\ndef test_x():\n    pass\n'
    run = _run(tmp_path, "true", body)
    assert run.returncode != 0 and "skipped under CI=true" in run.stdout, run.stdout


def test_outside_ci_skips_stay_skips(tmp_path):
    run = _run(tmp_path, "")
    assert run.returncode == 0, run.stdout
    assert "2 skipped" in run.stdout
