"""Where Delta keeps its files, and how it creates them private to their user.

Root: ``$DELTA_HOME``, else ``$XDG_CONFIG_HOME/delta``, else ``~/.config/delta``.
Directories are created 0700 and files 0600 whatever the umask says, because the memory holds
everything a person typed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import threading
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
MB = 1024 * 1024


class DiskFull(OSError):
    """A write needed space the file system under ``where`` does not have.

    Nothing was half-written: what was stored before stays readable. The message is the one
    line a user sees: ``disk full: N MB free under WHERE``.
    """

    def __init__(self, where: Path | str) -> None:
        self.where = Path(where)
        self.free_mb = free_mb(self.where)
        super().__init__(errno.ENOSPC, f"disk full: {self.free_mb} MB free under {self.where}")

    def __str__(self) -> str:
        return self.strerror or "disk full"


def free_mb(path: Path | str) -> int:
    """Megabytes an unprivileged user may still write on the file system of ``path``
    (the nearest existing ancestor when ``path`` does not exist); -1 when unknown."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free // MB
    except OSError:
        return -1


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the file system (or the user's quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    # py-lmdb words a full disk as lmdb.DiskError (ENOSPC) and a full quota as lmdb.Error
    text = str(exc)
    return type(exc).__name__ == "DiskError" or "Disk quota exceeded" in text


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
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file + rename).

    A folder removed between its creation and the write (``rm -rf`` of the Delta folder
    while a shell runs) is made again once: the write lands rather than failing on a race.
    """
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    # per process and thread: two threads writing one file must not share (and lose) a temp
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    for attempt in (1, 2):
        private_dir(path.parent)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            try:
                os.write(fd, raw)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


# Entries of the Delta folder Delta opens by name: none may be a symbolic link (a link
# planted there would make Delta write, or read its settings, somewhere else).
_NO_LINKS = ("config.toml", "delta.log", "memory", "models", "tokenizer", "datasets")


def home_problem(root: Path, name: str = "DELTA_HOME") -> str | None:
    """Why ``root`` is not a safe Delta folder for this user, in one line that says what to
    fix; None when it is (a folder that does not exist yet is fine if it can be made).

    The folder must be a directory owned by the user and writable by nobody else (whoever
    can write it can plant a config that switches the secrets filter off, or a link that
    turns Delta's log into an append to another file); it may be a link to such a folder.
    """
    root = Path(root)
    uid = os.getuid()
    try:
        st = os.stat(root)  # through a link: the folder it names is what must be safe
    except FileNotFoundError:
        return _creatable(root, name)
    except OSError as exc:
        return f"{name} {root} cannot be read ({exc.strerror or exc})"
    if not stat.S_ISDIR(st.st_mode):
        return f"{name} {root} is a file, not a directory: point {name} at a folder"
    if st.st_uid != uid:
        return (
            f"{name} {root} belongs to uid {st.st_uid}, not to you (uid {uid}): "
            "use a folder of your own"
        )
    if st.st_mode & 0o022:
        return (
            f"{name} {root} can be written by others (mode {st.st_mode & 0o777:04o}): "
            f"run `chmod 700 {root}`"
        )
    for entry in _NO_LINKS:
        path = root / entry
        try:
            est = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(est.st_mode):
            return (
                f"{path} is a symbolic link (to {os.readlink(path)}): Delta does not follow "
                "links out of its folder; remove it"
            )
        if est.st_uid != uid:
            return f"{path} belongs to uid {est.st_uid}, not to you (uid {uid}): remove it"
    return None


def _creatable(root: Path, name: str) -> str | None:
    """None when ``root`` can be created (tried for real, then removed again)."""
    made: list[Path] = []
    p = root
    while not p.exists() and p != p.parent:
        made.append(p)
        p = p.parent
    try:
        for d in reversed(made):
            d.mkdir(mode=DIR_MODE)
    except OSError as exc:
        return f"{name} {root} does not exist and cannot be created ({exc.strerror or exc})"
    finally:
        for d in made:
            with contextlib.suppress(OSError):
                d.rmdir()
    return None


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
        """Present while a bulk import of this process has stored records its index does not
        hold yet: ``unfolded.PID``, one per process, so that one import finishing never
        hides another that was killed (see :meth:`unfolded_flags`)."""
        return self.memory / f"unfolded.{os.getpid()}"

    def unfolded_flags(self) -> dict[int, Path]:
        """Every process's mark, by pid (``unfolded``, written by older versions with the pid
        inside, included; an unreadable one counts as pid 0: a dead process)."""
        out: dict[int, Path] = {}
        try:
            names = [n for n in os.listdir(self.memory) if n.startswith("unfolded")]
        except OSError:
            return out
        for name in names:
            path = self.memory / name
            tail = name.removeprefix("unfolded")
            try:
                pid = int(tail[1:]) if tail.startswith(".") else int(path.read_text() or 0)
            except (OSError, ValueError):
                pid = 0
            out[pid] = path
        return out

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
