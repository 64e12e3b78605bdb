"""Where Delta keeps its files, and how it creates them private to their user.

Root: ``$DELTA_HOME``, else ``$XDG_CONFIG_HOME/delta``, else ``~/.config/delta``.
Directories are created 0700 and files 0600 whatever the umask says, because the memory holds
everything a person typed.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def delta_root(env: dict[str, str] | None = None) -> Path:
    """The Delta root directory for this user (not created)."""
    env = os.environ if env is None else env
    if env.get("DELTA_HOME"):
        return Path(env["DELTA_HOME"]).expanduser()
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]).expanduser() / "delta"
    return Path.home() / ".config" / "delta"


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (umask aside) and return it."""
    path = Path(path)
    if not path.is_dir():
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for p in reversed(missing):
            p.mkdir(mode=DIR_MODE, exist_ok=True)
            p.chmod(DIR_MODE)
    if (path.stat().st_mode & 0o777) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def make_private(path: Path) -> None:
    """Tighten an existing file to 0600 (or a directory to 0700)."""
    path = Path(path)
    mode = DIR_MODE if path.is_dir() else FILE_MODE
    if (path.stat().st_mode & 0o777) != mode:
        path.chmod(mode)


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file + rename)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Layout:
    """The named places under one Delta root."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else delta_root()

    @property
    def memory(self) -> Path:
        return self.root / "memory"

    @property
    def shards(self) -> Path:
        return self.memory / "shards"

    @property
    def index(self) -> Path:
        return self.memory / "index"

    @property
    def quarantine(self) -> Path:
        return self.memory / "quarantine"

    @property
    def unfolded_flag(self) -> Path:
        """Present while a bulk import has stored records its index does not hold yet."""
        return self.memory / "unfolded"

    @property
    def paused_flag(self) -> Path:
        return self.memory / "paused"

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def log_file(self) -> Path:
        return self.root / "delta.log"
