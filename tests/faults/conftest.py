"""Fixtures of the fault-and-abuse suite: a real small file system to fill, real processes.

``small_fs`` mounts a real tmpfs of a few megabytes (``mount -t tmpfs -o size=…``), which
needs root or CAP_SYS_ADMIN: CI runs the suite as root (``.ci/run``; ``.ci/docker-setup.sh``
needs root too). Elsewhere the tests that need it are skipped, and under ``CI=true`` that
skip is a failure, so CI never passes without having filled a disk for real.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xontrib"))  # xonsh_pty


def delta(
    env: dict[str, str], *args: str, timeout: float = 120, **kw
) -> subprocess.CompletedProcess:
    """``delta ARGS`` as a separate program (rc, stdout, stderr)."""
    return subprocess.run(
        [sys.executable, "-c", "from delta_core.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def delta_env(home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment with ``DELTA_HOME`` set and other ``DELTA_*`` removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTA_")}
    env.update(DELTA_HOME=str(home), DELTA_SERVE_AUTO_START="0", **extra)
    return env


def fill(where: Path) -> Path:
    """Fill the file system of ``where`` to the last byte with one file; return it."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512):  # ever smaller, to the last byte
            chunk = b"\0" * size
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, chunk)
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB tmpfs mounted for this test (unmounted after)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        why = f"cannot mount a tmpfs here ({proc.stderr.strip()}): run as root"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
