"""The Delta roots this process has open: one registry entry per root.

LMDB lets a process open an environment only once, so every :class:`~delta_core.memory.store.Store`
on the same root shares one :class:`OpenRoot`: its environment cache, the index over it, how
many stores use it (the last one to close closes the environments), and the root lock's
generation at which the cache was last checked against the files on disk.
"""

from __future__ import annotations

import threading
from pathlib import Path

from delta_core.memory.index import Index
from delta_core.memory.lmdb_env import EnvCache


class OpenRoot:
    """What this process holds open under one root (shared by its stores)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.envs = EnvCache()
        self.users = 0
        #: the root lock's generation when ``envs`` was last checked against the disk
        self.generation = -1
        #: the index over the open index environment (rebuilt when that environment changes)
        self.index: Index | None = None

    def reset(self) -> None:
        """The root was removed or replaced on disk under this process: close every
        environment whose files are gone (another store of this root may have reopened some
        already) and check the rest again on next use."""
        self.envs.revalidate_under(self.path)
        self.index = None
        self.generation = -1

    def revalidate(self, generation: int) -> None:
        """Under the shared root lock: reopen what another process swapped since last time."""
        if generation != self.generation:
            self.envs.revalidate_under(self.path)
            self.generation = generation
            self.index = None  # reopened by the caller, from the cache or the new files


class RootRegistry:
    """Root path -> :class:`OpenRoot`, counted by the stores that use it."""

    def __init__(self) -> None:
        self._roots: dict[Path, OpenRoot] = {}
        self._lock = threading.Lock()

    def acquire(self, path: Path) -> OpenRoot:
        """The open root at ``path`` (an absolute path), one more user counted."""
        with self._lock:
            root = self._roots.get(path)
            if root is None:
                root = self._roots[path] = OpenRoot(path)
            root.users += 1
            return root

    def release(self, root: OpenRoot) -> None:
        """One user fewer; the last one closes the root's environments."""
        with self._lock:
            root.users -= 1
            if root.users > 0:
                return
            if self._roots.get(root.path) is root:
                del self._roots[root.path]
        root.index = None
        root.envs.close_under(root.path)


ROOTS = RootRegistry()
