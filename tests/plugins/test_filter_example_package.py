"""A third-party filter package plugs in through its entry point: pip-install the example.

The example in ``examples/delta-filter-example`` is installed with pip into a temporary
target directory (not into the shared environment, so other tests never see it) and that
directory is put on ``sys.path``: the entry-point scan then finds it like any installed package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from delta_core.context import DeltaContext
from delta_core.memory.privacy import apply_filters, explain
from delta_core.plugin.manager import Components, make_plugin_manager

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "delta-filter-example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path_factory.mktemp("build"),
    )
    assert (target / "delta_filter_example.py").exists()
    return target


@pytest.fixture
def on_path(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    yield installed
    sys.modules.pop("delta_filter_example", None)


def test_not_there_before_install(delta_home):
    filters = Components.from_manager(make_plugin_manager()).privacy_filters
    assert "norecord_tag" not in filters


def test_installed_filter_joins_the_chain(on_path, delta_home):
    pm = make_plugin_manager()
    assert pm.get_plugin("norecord_tag") is not None
    filters = Components.from_manager(pm).privacy_filters
    assert "norecord_tag" in filters and "secrets" in filters

    chain = list(filters.values())
    assert apply_filters(chain, "ssh db1.corp.example  # norecord", "/").action == "drop"
    verdict = apply_filters(chain, "ssh -p 2222 db1.corp.example uptime", "/")
    assert verdict.command == "ssh -p 2222 <redacted:corp-host> uptime"


def test_installed_filter_runs_in_a_context_and_explain(on_path, delta_home):
    ctx = DeltaContext()
    names = [f.name for f in ctx.filters]
    assert "norecord_tag" in names
    report = {e.filter: e.action for e in explain(ctx.filters, "make deploy #norecord", "/")}
    assert report["norecord_tag"] == "drop"


def test_installed_filter_can_be_limited_away(on_path, delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_PLUGINS", "")  # only built-ins
    assert "norecord_tag" not in [f.name for f in DeltaContext().filters]
    monkeypatch.delenv("DELTA_PLUGINS")
    monkeypatch.setenv("DELTA_FILTERS_DISABLED", "norecord_tag")
    assert "norecord_tag" not in [f.name for f in DeltaContext().filters]
