"""Collector ``git``: the repository root and branch of the directory a command runs in.

It reads ``.git/HEAD`` directly instead of running ``git``, because it runs on the prompt
path for every command (no subprocess allowed there). It understands the layouts ``git``
itself creates: a ``.git`` directory, a ``.git`` file (``gitdir: …``) as linked worktrees and
submodules use, a detached HEAD, and a rebase in progress (which detaches HEAD but still
knows its branch). ``$GIT_CEILING_DIRECTORIES`` stops the walk like it stops ``git``.

Fields: ``git_root`` (the work tree's top directory), ``git_branch`` (when on a branch) or
``git_commit`` (the commit id of a detached HEAD).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from delta_core.api import hookimpl

# The walk up from a cwd is cached for a short while: a prompt runs many commands in one
# directory, and `git init` showing up a second late does not matter. HEAD itself is re-read
# every time, because `git switch` changes it without changing the directory.
CACHE_SECONDS = 2.0
CACHE_SIZE = 256
_MAX_HEAD_BYTES = 4096


def _read_small(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_HEAD_BYTES)
    except OSError:
        return None
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


def _gitdir_of(dotgit: str) -> str | None:
    """The git directory a ``.git`` entry points to (itself, or the target of a gitdir file)."""
    if os.path.isdir(dotgit):
        return dotgit
    text = _read_small(dotgit)
    if not text or not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:") :].strip()
    if not os.path.isabs(target):
        target = os.path.join(os.path.dirname(dotgit), target)
    return os.path.normpath(target)


def find_repo(cwd: str, ceilings: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """``(work tree root, git dir)`` of the repository containing ``cwd``, or None."""
    d = os.path.abspath(cwd)
    while True:
        dotgit = os.path.join(d, ".git")
        if os.path.lexists(dotgit):
            gitdir = _gitdir_of(dotgit)
            if gitdir is not None:
                return d, gitdir
        parent = os.path.dirname(d)
        if parent == d or parent in ceilings:
            return None
        d = parent


def read_head(gitdir: str) -> dict[str, str]:
    """Branch (or detached commit) from ``HEAD`` in ``gitdir``; empty when unreadable."""
    head = _read_small(os.path.join(gitdir, "HEAD"))
    if not head:
        return {}
    if head.startswith("ref:"):
        ref = head[4:].strip()
        return {"git_branch": ref.removeprefix("refs/heads/")}
    out = {"git_commit": head}
    # During a rebase HEAD is detached; git keeps the branch being rebased here.
    for sub in ("rebase-merge", "rebase-apply"):
        name = _read_small(os.path.join(gitdir, sub, "head-name"))
        if name and name.startswith("refs/heads/"):
            out["git_branch"] = name.removeprefix("refs/heads/")
            break
    return out


class GitCollector:
    """Adds ``git_root`` and ``git_branch``/``git_commit`` when the cwd is in a repository."""

    name = "git"

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, tuple[str, str] | None]] = {}

    def _repo(self, cwd: str, env: Mapping[str, str]) -> tuple[str, str] | None:
        ceil_text = env.get("GIT_CEILING_DIRECTORIES", "")
        key = (cwd, ceil_text)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        ceilings = frozenset(os.path.normpath(c) for c in ceil_text.split(os.pathsep) if c)
        found = find_repo(cwd, ceilings)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (now + self.cache_seconds, found)
        return found

    def collect(self, cwd: str, env: Mapping[str, str]) -> Mapping[str, str]:
        if not cwd:
            return {}
        found = self._repo(cwd, env)
        if found is None:
            return {}
        root, gitdir = found
        head = read_head(gitdir)
        if not head:
            # The repository went away (or moved) since it was cached: look again next time.
            self._cache.pop((cwd, env.get("GIT_CEILING_DIRECTORIES", "")), None)
            return {}
        return {"git_root": root, **head}


@hookimpl
def delta_register_collectors(register):
    register(GitCollector())
