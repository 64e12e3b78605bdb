"""Driving a real interactive xonsh through a pseudo-terminal, for the end-to-end tests.

Each shell gets a clean HOME and XDG directories under a temporary folder, ``$DELTA_HOME``
there too, and an rc file (``xonsh --rc FILE``, so no user rc is read) that sets a fixed
prompt and, unless told otherwise, runs ``xontrib load delta``. Used by ``tests/xontrib`` and
by ``benchmarks/xonsh_overhead.py``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect

PROMPT = "XP-READY>"
DSR = "\x1b[6n"  # "where is the cursor?"
ANSI = re.compile(r"\x1b(\[[0-9;?>=]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>])")

RC_HEAD = f"""\
$PROMPT = '{PROMPT} '
$RIGHT_PROMPT = ''
$BOTTOM_TOOLBAR = ''
$TITLE = ''
$COLOR_INPUT = False
$AUTO_SUGGEST = False
$XONSH_SHOW_TRACEBACK = False
$UPDATE_COMPLETIONS_ON_KEYPRESS = False
"""


def clean_env(base: Path, delta_home: Path | None = None, **extra: str) -> dict[str, str]:
    """An environment with a private HOME and XDG dirs, and ``DELTA_HOME`` under ``base``."""
    home = base / "home"
    for sub in ("", ".config", ".local/share", ".cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        HOME=str(home),
        USER=os.environ.get("USER", "tester"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        DELTA_HOME=str(delta_home if delta_home is not None else base / "delta"),
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",
        XONSH_HISTORY_BACKEND="dummy",
        # a `delta serve` the shell starts outlives it; in tests it goes soon after the last use
        DELTA_SERVE_IDLE_EXIT_S="15",
    )
    env.update(extra)
    return env


def write_rc(
    path: Path, *, load: bool = True, shell_type: str = "readline", extra: str = ""
) -> Path:
    """The rc file: fixed prompt, the shell type, optional extra lines, then the xontrib."""
    body = RC_HEAD + f"$SHELL_TYPE = '{shell_type}'\n" + extra
    if load:
        body += "xontrib load delta\n"
    path.write_text(body)
    return path


class Xonsh:
    """One interactive xonsh in a pty; ``run`` types a line and waits for the next prompt."""

    def __init__(self, rc: Path, env: dict[str, str], cwd: Path, timeout: float = 30) -> None:
        self.transcript = io.StringIO()
        self.t0 = time.perf_counter()
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "xonsh", "-i", "--rc", str(rc)],
            env=env,
            cwd=str(cwd),
            encoding="utf-8",
            codec_errors="replace",
            timeout=timeout,
            dimensions=(50, 250),
        )
        self.child.delaybeforesend = None
        self.child.logfile_read = self.transcript
        self.wait_prompt()
        self.startup_s = time.perf_counter() - self.t0

    def wait_prompt(self) -> str:
        """Wait for the prompt, answering the shell's cursor-position queries on the way.

        The readline shell asks the terminal where the cursor is before each prompt and waits
        half a second for an answer a pty never gives; a terminal answers at once.
        """
        seen = []
        while self.child.expect_exact([PROMPT, DSR]) == 1:
            seen.append(self.child.before)
            self.child.send("\x1b[1;1R")
        seen.append(self.child.before)
        return strip_ansi("".join(seen))

    def run(self, line: str) -> str:
        """Type ``line`` and Enter; return what the shell printed before the next prompt."""
        self.child.sendline(line)
        return self.wait_prompt()

    def exit(self) -> None:
        self.child.sendline("exit")
        self.child.expect(pexpect.EOF)
        self.child.close()

    def text(self) -> str:
        """Everything the terminal showed, without escape sequences."""
        return strip_ansi(self.transcript.getvalue())

    def warm_up(self, settle_s: float) -> None:
        """Run one command, then give Delta ``settle_s`` to finish what starts after the first
        prompt (the recorder, the suggestion engine, a model loading)."""
        self.child.sendline("echo warm-up-done")
        self.child.expect_exact("warm-up-done\r\n")
        time.sleep(settle_s)

    def until_stored(self, env: dict[str, str], count: int = 1, timeout: float = 60) -> None:
        """Wait until the memory holds ``count`` records: commands typed while Delta was still
        starting are stored by the start, a moment after their prompt came back."""
        deadline = time.monotonic() + timeout
        home = Path(env["DELTA_HOME"])
        while True:
            if any((home / "memory" / "shards").glob("*/data.mdb")) and len(export(env)) >= count:
                return
            assert time.monotonic() < deadline, f"fewer than {count} commands were stored"
            time.sleep(0.1)

    def ghost(self, typed: str, rest: str, timeout: float, pause: float = 0.5) -> bool:
        """Type ``typed`` key by key (pausing, as a person does) and wait for ``rest`` drawn
        after the cursor: the ghost text. False when it did not come within ``timeout``."""
        for ch in typed:
            self.child.send(ch)
            time.sleep(pause)
        try:
            self.child.expect_exact(rest, timeout=timeout)
            return True
        except pexpect.TIMEOUT:
            return False

    def delta_lines(self) -> list[str]:
        """Lines Delta printed (its one-line problem reports start with ``delta:``)."""
        return [ln for ln in self.text().splitlines() if ln.lstrip().startswith("delta:")]


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


def export(env: dict[str, str]) -> list[dict]:
    """``delta memory export`` run as a separate program, parsed."""
    out = subprocess.run(
        [sys.executable, "-c", "from delta_core.cli import main; main()", "memory", "export"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]
