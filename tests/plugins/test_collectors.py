"""The built-in collectors: git (real repositories made by git), Python envs, tmux/ssh markers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from delta_plugins.collect_git import GitCollector
from delta_plugins.collect_python_env import CondaCollector, VirtualenvCollector
from delta_plugins.collect_terminal import SshCollector, TmuxCollector

from delta_core.context import DeltaContext
from delta_core.session.recorder import Recorder

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "src" / "deep").mkdir(parents=True)
    (r / "f.txt").write_text("x")
    git(r, "add", "f.txt")
    git(r, "commit", "-q", "-m", "one")
    return r


@needs_git
def test_git_root_and_branch_from_a_subdirectory(repo: Path) -> None:
    got = GitCollector(cache_seconds=0).collect(str(repo / "src" / "deep"), {})
    assert got == {"git_root": str(repo), "git_branch": "main"}


@needs_git
def test_git_branch_switch_is_seen_in_the_same_directory(repo: Path) -> None:
    c = GitCollector()  # cached walk: HEAD must still be re-read
    assert c.collect(str(repo), {})["git_branch"] == "main"
    git(repo, "switch", "-q", "-c", "feature/x")
    assert c.collect(str(repo), {})["git_branch"] == "feature/x"


@needs_git
def test_detached_head_gives_the_commit(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    got = GitCollector(cache_seconds=0).collect(str(repo), {})
    assert got == {"git_root": str(repo), "git_commit": sha}


@needs_git
def test_linked_worktree_has_its_own_root_and_branch(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(wt))
    assert (wt / ".git").is_file()  # a gitdir file, not a directory
    got = GitCollector(cache_seconds=0).collect(str(wt), {})
    assert got == {"git_root": str(wt), "git_branch": "side"}
    # the main work tree is unaffected
    assert GitCollector(cache_seconds=0).collect(str(repo), {})["git_branch"] == "main"


@needs_git
def test_submodule_style_relative_gitdir_file(repo: Path, tmp_path: Path) -> None:
    # A .git file with a relative path, as submodules write it.
    sub = tmp_path / "outer" / "sub"
    sub.mkdir(parents=True)
    moved = tmp_path / "outer" / "modules" / "sub"
    shutil.copytree(repo / ".git", moved)
    (sub / ".git").write_text("gitdir: ../modules/sub\n")
    got = GitCollector(cache_seconds=0).collect(str(sub), {})
    assert got == {"git_root": str(sub), "git_branch": "main"}


@needs_git
def test_rebase_in_progress_keeps_the_branch_name(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    (repo / ".git" / "HEAD").write_text(sha + "\n")
    (repo / ".git" / "rebase-merge").mkdir()
    (repo / ".git" / "rebase-merge" / "head-name").write_text("refs/heads/topic\n")
    got = GitCollector(cache_seconds=0).collect(str(repo), {})
    assert got == {"git_root": str(repo), "git_commit": sha, "git_branch": "topic"}


def test_outside_a_repository_nothing(tmp_path: Path) -> None:
    ceiling = {"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    assert GitCollector().collect(str(tmp_path), ceiling) == {}


def test_ceiling_directories_stop_the_walk(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/trunk\n")
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    c = GitCollector(cache_seconds=0)
    assert c.collect(str(inner), {})["git_branch"] == "trunk"
    assert c.collect(str(inner), {"GIT_CEILING_DIRECTORIES": str(tmp_path / "a")}) == {}


def test_garbage_git_entries_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".git").write_bytes(b"\xff\xfe not a gitdir line")
    inner = tmp_path / "x"
    inner.mkdir()
    ceiling = {"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    assert GitCollector(cache_seconds=0).collect(str(inner), ceiling) == {}


def test_removed_repository_is_noticed_despite_the_cache(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    c = GitCollector(cache_seconds=3600)
    env = {"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    assert c.collect(str(tmp_path), env)["git_branch"] == "main"
    shutil.rmtree(tmp_path / ".git")
    assert c.collect(str(tmp_path), env) == {}


def test_python_environments_from_variables() -> None:
    assert VirtualenvCollector().collect("/", {"VIRTUAL_ENV": "/home/u/.venvs/api"}) == {
        "virtualenv": "/home/u/.venvs/api"
    }
    assert VirtualenvCollector().collect("/", {}) == {}
    assert CondaCollector().collect("/", {"CONDA_DEFAULT_ENV": "ml"}) == {"conda_env": "ml"}
    assert CondaCollector().collect("/", {"CONDA_PREFIX": "/opt/conda/envs/geo/"}) == {
        "conda_env": "geo"
    }
    assert CondaCollector().collect("/", {}) == {}


def test_tmux_and_ssh_markers() -> None:
    assert TmuxCollector().collect("/", {"TMUX": "/tmp/tmux-1/default,42,0"}) == {"tmux": "1"}
    assert TmuxCollector().collect("/", {}) == {}
    ssh = {"SSH_CONNECTION": "10.0.0.9 50000 10.0.0.1 22"}
    assert SshCollector().collect("/", ssh) == {"ssh": "1"}
    assert "10.0.0.9" not in str(SshCollector().collect("/", ssh))
    assert SshCollector().collect("/", {}) == {}


def test_collectors_fill_records_and_each_can_be_switched_off(tmp_path: Path) -> None:
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    (tmp_path / "proj" / ".git" / "HEAD").write_text("ref: refs/heads/dev\n")
    env = {
        "DELTA_HOME": str(tmp_path / "delta"),
        "DELTA_PLUGINS": "",
        "VIRTUAL_ENV": "/v/env",
        "TMUX": "x,1,0",
        "SSH_TTY": "/dev/pts/3",
        "CONDA_DEFAULT_ENV": "base",
    }
    rec = Recorder(DeltaContext(env=env), sync_thread=False)
    stored = rec.finish(rec.start("make", str(tmp_path / "proj"), env), 0, 0.1)
    assert stored is not None
    assert stored.extra == {
        "git_root": str(tmp_path / "proj"),
        "git_branch": "dev",
        "virtualenv": "/v/env",
        "conda_env": "base",
        "tmux": "1",
        "ssh": "1",
    }
    rec.close()

    off = {**env, "DELTA_COLLECTORS_DISABLED": "git,tmux,conda"}
    rec = Recorder(DeltaContext(env=off), sync_thread=False)
    stored = rec.finish(rec.start("make", str(tmp_path / "proj"), off), 0, 0.1)
    assert stored is not None
    assert stored.extra == {"virtualenv": "/v/env", "ssh": "1"}
    rec.close()
