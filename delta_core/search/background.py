"""Starting the full-model upgrade of the search index as a detached, low-priority process.

After a large import the index is searchable at once with static vectors; the full model's
pass over the new commands takes minutes, so it runs as ``nice delta search --sync`` in its
own session, outliving the command that started it. The lock file is the one the shell's
background catch-up uses (``xontrib_delta.indexer``), so at most one runs per Delta root.
Standard library only: the shell may import this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Run in the child: take the lock or leave at once, then catch up and upgrade.
CHILD = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "try:\n"
    "    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
    "except OSError:\n"
    "    sys.exit(0)\n"
    "from delta_core.cli import main\n"
    "main(['search', '--sync'])\n"
)
NICE = 15


def lock_file(root: Path) -> Path:
    """The file whose lock says a background catch-up is running for ``root``."""
    return Path(root) / "search.lock"


def start(root: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start ``delta search --sync`` for ``root`` detached at low priority; returns at once."""
    from delta_core.paths import private_dir

    private_dir(Path(root))
    argv = [sys.executable, "-c", CHILD, str(lock_file(root))]
    nice = shutil.which("nice")
    if nice:
        argv = [nice, "-n", str(NICE), *argv]
    child_env = dict(os.environ if env is None else env)
    child_env["DELTA_HOME"] = str(root)
    return subprocess.Popen(
        argv,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
