"""Collectors ``virtualenv`` and ``conda``: the Python environment a command runs in.

Both read only environment variables, which activation scripts (and xonsh's ``vox``) set, so
they cost a dictionary lookup on the prompt path.

Fields: ``virtualenv`` (the path in ``$VIRTUAL_ENV``), ``conda_env`` (``$CONDA_DEFAULT_ENV``,
else the last part of ``$CONDA_PREFIX``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from delta_core.api import hookimpl


class VirtualenvCollector:
    """Adds ``virtualenv`` when a virtual environment is active."""

    name = "virtualenv"

    def collect(self, cwd: str, env: Mapping[str, str]) -> Mapping[str, str]:
        path = env.get("VIRTUAL_ENV")
        return {"virtualenv": str(path)} if path else {}


class CondaCollector:
    """Adds ``conda_env`` when a conda environment is active."""

    name = "conda"

    def collect(self, cwd: str, env: Mapping[str, str]) -> Mapping[str, str]:
        name = env.get("CONDA_DEFAULT_ENV")
        if not name:
            prefix = env.get("CONDA_PREFIX")
            name = os.path.basename(str(prefix).rstrip("/")) if prefix else ""
        return {"conda_env": str(name)} if name else {}


@hookimpl
def delta_register_collectors(register):
    register(VirtualenvCollector())
    register(CondaCollector())
