"""Under ``CI=true`` a skipped test fails the run: a package the tests need that is not
installed, a shared corpus that is not there or a shell that is missing must not leave CI
green. A test whose skip is about the machine rather than a missing part (an engine with
GPUs cannot refuse a GPU) says so with ``@pytest.mark.ci_may_skip("why")``.

Loaded by ``tests/conftest.py``; a pytest plugin of its own (``-p ci_skips``) so that its test
can run it on a throwaway test file.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail(report, where: str) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true ({_reason(report)}), which fails the run: {where}. "
        "Install what the tests need (.ci/install), or mark a skip about the machine "
        "@pytest.mark.ci_may_skip"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (
        IN_CI
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("ci_may_skip") is None
    ):
        _fail(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:  # a module-level importorskip or skipif
        _fail(report, collector.nodeid)
