"""Which packages the wheel holds: found under the source folders, never listed by hand.

Everything else about the distribution is in pyproject.toml. This file exists because
``plugins/`` installs under the import name ``delta_plugins`` (a top-level ``plugins`` would
collide with other projects), and setuptools' declarative ``find`` cannot rename a folder.
The source folders are named once, in ``[tool.delta] source-dirs`` of pyproject.toml; the
docker trainer copies the same folders into its image.
"""

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
# Folder -> import name, where they differ.
RENAMED = {"plugins": "delta_plugins"}


def source_dirs() -> list[str]:
    """The top-level source folders of pyproject.toml's ``[tool.delta] source-dirs``."""
    data = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))
    return list(data["tool"]["delta"]["source-dirs"])


def packages() -> tuple[list[str], dict[str, str]]:
    """Every package under the source folders (namespace ones included), and their folders."""
    found: list[str] = []
    package_dir: dict[str, str] = {}
    for folder in source_dirs():
        name = RENAMED.get(folder, folder)
        if name != folder:
            package_dir[name] = folder
        for pkg in find_namespace_packages(where=str(HERE), include=[folder, f"{folder}.*"]):
            if "__pycache__" not in pkg.split("."):
                found.append(name + pkg[len(folder) :])
    return sorted(found), package_dir


PACKAGES, PACKAGE_DIR = packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
