"""Histories written by the real shells, and by writers that follow their file formats.

The real-shell helpers run bash, zsh, fish and xonsh interactively (commands on stdin, or
through a pty for fish) with a private HOME, so the files under test are exactly what those
shells write. The writers produce the same formats for property tests and benchmarks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest


def need(program: str) -> str:
    """The path of ``program``, or skip the test (zsh and fish are optional on CI)."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }
    env.update(extra)
    return env


def run_bash(home: Path, lines: Sequence[str], *, timestamps: bool) -> Path:
    """Type ``lines`` into an interactive bash; return its history file."""
    home.mkdir(parents=True, exist_ok=True)
    histfile = home / ".bash_history"
    extra = {"HISTFILE": str(histfile), "HISTSIZE": "1000", "HISTFILESIZE": "1000"}
    if timestamps:
        extra["HISTTIMEFORMAT"] = "%s "
    script = ("shopt -s lithist\n" if timestamps else "") + "\n".join(lines) + "\n"
    subprocess.run(
        ["bash", "--norc", "--noprofile", "-i"],
        input=script.encode(),
        env=_env(home, **extra),
        cwd=home,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return histfile


def run_zsh(home: Path, lines: Sequence[str], *, extended: bool) -> Path:
    """Type ``lines`` into an interactive zsh (``-f``: no rc files); return its history."""
    need("zsh")
    home.mkdir(parents=True, exist_ok=True)
    histfile = home / ".zsh_history"
    # zsh fed on stdin does not save at EOF; the incremental options write as it goes
    # (INC_APPEND_HISTORY_TIME also writes each command's elapsed time)
    opts = "setopt EXTENDED_HISTORY INC_APPEND_HISTORY_TIME\n" if extended else ""
    opts += "setopt INC_APPEND_HISTORY\n" if not extended else ""
    subprocess.run(
        ["zsh", "-f", "-i"],
        input=(opts + "\n".join(lines) + "\n").encode(),
        env=_env(home, HISTFILE=str(histfile), SAVEHIST="1000", HISTSIZE="1000"),
        cwd=home,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return histfile


def run_fish(home: Path, lines: Sequence[str]) -> Path:
    """Type ``lines`` into an interactive fish through a pty; return its history file."""
    need("fish")
    import pexpect

    env = _env(home, TERM="xterm")
    data = Path(env["XDG_DATA_HOME"]) / "fish"
    # an existing generated_completions directory stops fish's first-run man page scan
    (data / "generated_completions").mkdir(parents=True, exist_ok=True)
    child = pexpect.spawn("fish", ["-i"], env=env, cwd=str(home), encoding="utf-8", timeout=20)
    try:
        time.sleep(0.5)
        for line in lines:
            child.sendline(line)
            time.sleep(0.2)
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return data / "fish_history"


def run_xonsh(home: Path, lines: Sequence[str], *, backend: str) -> Path:
    """Type ``lines`` into an interactive xonsh with history ``backend``; return its data dir."""
    data_dir = home / ".local" / "share" / "xonsh"
    data_dir.mkdir(parents=True, exist_ok=True)  # the sqlite backend does not create it
    subprocess.run(
        ["xonsh", "--no-rc", "-i", "--shell-type", "readline"],
        input=("\n".join(lines) + "\n").encode(),
        env=_env(
            home,
            XONSH_DATA_DIR=str(data_dir),
            XONSH_HISTORY_BACKEND=backend,
            XONSH_HISTORY_SAVE_CWD="1",
        ),
        cwd=home,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return data_dir


# --- writers ----------------------------------------------------------------------------


def write_bash(commands: Iterable[str | tuple[int, str]]) -> bytes:
    """A bash history: plain commands, or ``(epoch, command)`` pairs written with stamps."""
    out = []
    for item in commands:
        if isinstance(item, tuple):
            out.append(f"#{item[0]}\n{item[1]}\n")
        else:
            out.append(item + "\n")
    return "".join(out).encode("utf-8")


_META_BYTES = frozenset([0, *range(0x83, 0xA3)])


def metafy(raw: bytes) -> bytes:
    """zsh's metafication of bytes it uses internally (``Meta`` = 0x83, then byte ^ 0x20)."""
    out = bytearray()
    for b in raw:
        if b in _META_BYTES:
            out += bytes((0x83, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


_ENDS_IN_BACKSLASH = re.compile(r"\\ *\Z")


def zsh_line(command: str, when: int | None = None, elapsed: int = 0) -> bytes:
    """One zsh history entry as zsh's ``savehistfile`` writes it."""
    body = command.replace("\n", "\\\n")
    if _ENDS_IN_BACKSLASH.search(body):
        body += " "
    head = f": {when}:{elapsed};" if when is not None else ""
    return metafy((head + body + "\n").encode("utf-8"))


def write_zsh(entries: Iterable[str | tuple[int, int, str]]) -> bytes:
    """A zsh history: plain commands or ``(epoch, elapsed, command)`` extended entries."""
    parts = []
    for e in entries:
        parts.append(zsh_line(e[2], e[0], e[1]) if isinstance(e, tuple) else zsh_line(e))
    return b"".join(parts)


def write_fish(entries: Iterable[tuple[int, str]]) -> bytes:
    """A fish history of ``(epoch, command)`` entries."""
    out = []
    for when, cmd in entries:
        esc = cmd.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"- cmd: {esc}\n  when: {when}\n")
    return "".join(out).encode("utf-8")


# atuin's client schema, as its migrations build it (crates/atuin-client/migrations):
# create_history, then deleted_at, then the shell column of recent versions.
ATUIN_SCHEMA = """
create table if not exists history (
    id text primary key,
    timestamp integer not null,
    duration integer not null,
    exit integer not null,
    command text not null,
    cwd text not null,
    session text not null,
    hostname text not null,
    unique(timestamp, cwd, command)
);
create index if not exists idx_history_timestamp on history(timestamp);
create index if not exists idx_history_command on history(command);
alter table history add column deleted_at integer;
alter table history add column shell text;
"""
