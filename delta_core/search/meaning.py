"""What a command means, as text an embedder can read: the command plus its programs' purpose.

``tar -xzf x.tgz`` says little to a sentence model; "tar - an archiving utility" says what it
is for, and that is what a person types when searching ("unpack the archive"). Purposes come
from the manual pages installed on this machine (``whatis``, one batched call for all new
programs) and are cached under the Delta root, so indexing never waits on them twice and
nothing leaves the machine. Without ``whatis`` the command alone is embedded.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from delta_core.memory.matchable import match_text
from delta_core.paths import write_private

TEXT_VERSION = 4  # bump when embedding_text changes: the vector index is then rebuilt

# words that run another program: the purpose is that program's
_WRAPPERS = {"sudo", "env", "time", "nohup", "nice", "exec", "command", "xargs", "watch", "doas"}
# programs whose first argument is a subcommand with its own manual page (git-commit(1), …)
_SUBCOMMANDS = {"git", "docker", "systemctl", "apt", "apt-get", "kubectl", "npm", "cargo", "pip"}
_VALUE_FLAGS = {"-u", "-g", "-n", "-C", "-p", "-U", "-D", "-I", "-P", "-L"}
_SEGMENT = re.compile(r"\|\||&&|[|;&()`]|\$\(")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WHATIS_LINE = re.compile(r"^(\S+) \((\w+)\)\s+- (.*)$")


@functools.lru_cache(maxsize=1 << 17)
def programs(command: str) -> tuple[str, ...]:
    """The programs a command line runs, in order (``sudo``/``env`` look through to theirs).

    A subcommand is joined to its program (``git-commit``) so its own purpose can be found.
    Remembered per command (``shlex`` is slow; one build asks for each text up to 3 times).
    """
    found: list[str] = []
    for segment in _SEGMENT.split(command):
        try:
            words = shlex.split(segment, comments=False)
        except ValueError:
            words = segment.split()
        i = 0
        while i < len(words) and (_ASSIGN.match(words[i]) or words[i] in _WRAPPERS):
            i += 1
            while i < len(words) and words[i].startswith("-"):
                # flags of the wrapper (sudo -u root …) are not programs, nor their values
                i += 2 if words[i] in _VALUE_FLAGS else 1
        if i >= len(words):
            continue
        prog = words[i].rsplit("/", 1)[-1]
        if not prog or not re.match(r"^[\w.+-]+$", prog):
            continue
        sub = words[i + 1] if i + 1 < len(words) else ""
        if prog in _SUBCOMMANDS and re.match(r"^[a-z][\w-]*$", sub):
            found.append(f"{prog}-{sub}")
        found.append(prog)
    return tuple(dict.fromkeys(found))


def whatis(names: Iterable[str], timeout: float = 20.0) -> dict[str, str]:
    """One-line purposes from the installed manual pages; unknown names are absent."""
    # a name that looks like an option would make whatis refuse the whole batch
    names = sorted({n for n in names if n and not n.startswith("-")})
    exe = shutil.which("whatis")
    if not names or exe is None:
        return {}
    out: dict[str, str] = {}
    for s in range(0, len(names), 200):  # keep the argument list bounded
        try:
            proc = subprocess.run(
                # -l: whole descriptions (not cut to the terminal's width); --: names only
                [exe, "-l", "--", *names[s : s + 200]],
                capture_output=True,
                text=True,
                timeout=timeout,
                env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
            )
        except (OSError, subprocess.SubprocessError):
            return out
        for line in proc.stdout.splitlines():
            m = _WHATIS_LINE.match(line)
            # prefer section 1/8 (commands) over library calls of the same name
            if m and (m.group(1) not in out or m.group(2)[0] in "18"):
                out[m.group(1)] = m.group(3).strip()
    return out


class Purposes:
    """Program -> purpose, looked up once per program and cached in a private JSON file."""

    def __init__(self, cache_file: Path | None = None, lookup=whatis) -> None:
        self.cache_file = cache_file
        self._lookup = lookup
        self._known: dict[str, str] = {}
        if cache_file is not None and cache_file.exists():
            try:
                self._known = json.loads(cache_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._known = {}  # a damaged cache is only a slower next run

    def prepare(self, commands: Iterable[str]) -> None:
        """Look up every program of ``commands`` not seen before, in one batch, and save."""
        wanted = {p for c in commands for p in programs(c)} - self._known.keys()
        if not wanted:
            return
        found = self._lookup(wanted)
        for name in wanted:
            self._known[name] = found.get(name, "")
        if self.cache_file is not None:
            write_private(self.cache_file, json.dumps(self._known, sort_keys=True))

    def of(self, command: str) -> list[str]:
        """The purposes of the programs in ``command`` (at most three, most specific first)."""
        out: list[str] = []
        for p in programs(command):
            text = self._known.get(p, "")
            if text and text not in out:
                out.append(text)
        return out[:3]


def embedding_text(command: str, purposes: Purposes | None) -> str:
    """The text embedded for a command: the command, then what its programs are for.

    Redaction placeholders are left out: their words (``github-token``) are not the user's.
    """
    command = match_text(command)
    if purposes is None:
        return command
    about = purposes.of(command)
    return f"{command} ; {' ; '.join(about)}" if about else command
