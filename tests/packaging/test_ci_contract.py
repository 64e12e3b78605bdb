"""What CI runs is what the README says: ``.ci/run`` runs the README's test command verbatim
under ``CI=true``, and ``.ci/install`` installs every extra the tests use (issue 15)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)


def test_ci_runs_the_readme_test_command_verbatim_with_skips_failing():
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    test_command = _sh_blocks()[1].strip()
    assert test_command in run, f"{test_command!r} is not a line of .ci/run"
    assert "export CI=true" in run[: run.index(test_command)]


def test_the_dev_extra_pulls_every_other_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    (self_ref,) = [d for d in extras["dev"] if d.startswith(project["name"] + "[")]
    pulled = set(self_ref.partition("[")[2].rstrip("]").split(","))
    assert pulled == set(extras) - {"dev"}
    install = (REPO / ".ci" / "install").read_text(encoding="utf-8")
    assert 'pip install -q -e ".[dev]"' in install
