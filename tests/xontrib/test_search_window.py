"""The search window in a real xonsh (prompt_toolkit shell, in a pty), read as a screen.

A pyte terminal emulator replays everything the shell wrote, so the tests compare what the
pane shows before the window opens and after it closes: nothing of the window may remain,
whichever key closes it (Enter runs the command, Tab puts it on the prompt to edit, Esc and
Ctrl-C cancel). The filter modes are cycled with Ctrl-R over records made for each mode.
Uses the model-free ``hashing`` embedder so the window answers at once, with suggestions
off so that nothing else draws on the prompt line.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pexpect
import pytest
from xonsh_pty import PROMPT, Xonsh, clean_env, write_rc

from delta_core.memory.store import Store
from delta_core.records.record import Record

pyte = pytest.importorskip("pyte")
pytest.importorskip("usearch")
ROWS, COLS = 50, 250
TARGET = "echo found-by-delta-search-42"


class Screen:
    """What the pty shows: a pyte screen fed by everything the shell writes."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.Stream(self.screen)

    def write(self, data: str) -> None:
        self.stream.feed(data)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]


def shell(tmp_path: Path, records: list[Record]) -> tuple[Xonsh, Screen, Path]:
    start = tmp_path / "start"
    (start / ".git").mkdir(parents=True)
    (start / "sub").mkdir()
    env = clean_env(tmp_path, DELTA_SEARCH_EMBEDDER="hashing")
    with Store(Path(env["DELTA_HOME"])) as store:
        store.add_many(records)
    # Ghost text and the next command off: they draw on the prompt line at their own pace,
    # and these tests compare the screen around the search window line by line.
    rc = write_rc(
        tmp_path / "rc.xsh", shell_type="prompt_toolkit", extra="$DELTA_SUGGEST = False\n"
    )
    sh = Xonsh(rc, env, start, timeout=60)
    screen = Screen()
    screen.write(sh.transcript.getvalue())
    sh.child.logfile_read = Tee(sh.transcript, screen)
    return sh, screen, start


class Tee:
    def __init__(self, *outs) -> None:
        self.outs = outs

    def write(self, data: str) -> None:
        for o in self.outs:
            o.write(data)

    def flush(self) -> None:
        pass


def settle(sh: Xonsh, screen: Screen, done, timeout: float = 20.0) -> list[str]:
    """Read the pty until ``done(lines)`` holds and the screen stops changing."""
    deadline = time.monotonic() + timeout
    last, still = None, 0
    while time.monotonic() < deadline:
        with contextlib.suppress(pexpect.TIMEOUT):
            sh.child.read_nonblocking(65536, timeout=0.1)
        now = screen.lines()
        still = still + 1 if now == last else 0
        last = now
        if done(now) and still >= 3:
            return now
    raise AssertionError("screen did not settle:\n" + "\n".join(x for x in last or [] if x))


def old_records(start: Path) -> list[Record]:
    now = time.time_ns() - 3600 * 10**9
    cmds = ["cd /srv/app", TARGET, "make deploy", "ls -la", "git status"]
    return [
        Record(c, now + i * 10**9, cwd="/srv/app", exit=0, session="old", host="elsewhere")
        for i, c in enumerate(cmds)
    ]


def run_line(sh: Xonsh, screen: Screen, line: str, output: str) -> list[str]:
    """Run ``line``; the screen once its output is shown and the next prompt waits, empty."""
    sh.child.sendline(line)
    sh.child.expect_exact(output + "\r\n")
    return settle(sh, screen, lambda ls: [x for x in ls if x][-1] == PROMPT)


def open_window(sh: Xonsh, screen: Screen, query: str, want: str) -> list[str]:
    sh.child.send("\x13")  # Ctrl-S
    sh.child.expect_exact("search>")
    sh.child.send(query)
    return settle(
        sh, screen, lambda ls: any(want in x for x in ls) and any("search>" in x for x in ls)
    )


def window_left(lines: list[str]) -> list[str]:
    """Lines of the window still shown (a prompt line may hold Delta's ghost suggestion)."""
    marks = ("search>", "────", "Esc cancel", "make deploy", "/srv/app")
    return [x for x in lines if not x.startswith(PROMPT) and any(m in x for m in marks)]


@pytest.mark.parametrize("key", ["esc", "ctrl-c", "tab", "enter"])
def test_nothing_of_the_window_remains_after_it_closes(tmp_path: Path, key: str) -> None:
    sh, screen, _ = shell(tmp_path, old_records(tmp_path / "start"))
    before = run_line(sh, screen, "echo before-the-window", "before-the-window")
    shown = open_window(sh, screen, "found by delta", "make deploy")
    assert window_left(shown)  # the window was drawn: its frame, its hit's context
    sh.child.send({"esc": "\x1b", "ctrl-c": "\x03", "tab": "\t", "enter": "\r"}[key])
    if key == "enter":  # the command is put on the prompt and runs; a new prompt follows

        def ran(ls):
            out = [i for i, x in enumerate(ls) if x == "found-by-delta-search-42"]
            return bool(out) and ls[out[-1] + 1].startswith(PROMPT)

        after = settle(sh, screen, ran)
    elif key == "tab":  # the command is on the prompt, not run, ready to edit
        after = settle(sh, screen, lambda ls: any(x.endswith(TARGET) for x in ls))
    else:
        after = settle(sh, screen, lambda ls: not any("search>" in x for x in ls))
    assert window_left(after) == [], "\n".join(x for x in after if x)
    n = max(i for i, x in enumerate(before) if x) + 1  # the prompt is the last line shown
    assert after[: n - 1] == before[: n - 1]  # everything above the prompt is as it was
    prompt_line = after[n - 1]
    if key == "esc" or key == "ctrl-c":
        assert after == before
    elif key == "tab":
        assert prompt_line == f"{PROMPT} {TARGET}" and after[n:] == before[n:]
    else:
        assert prompt_line == f"{PROMPT} {TARGET}"
        assert after[n] == "found-by-delta-search-42" and after[n + 1].startswith(PROMPT)
    if key == "tab":
        sh.child.send("\x15")  # clear the line before leaving
    sh.exit()
    assert sh.delta_lines() == []


def test_ctrl_r_cycles_host_session_directory_and_workspace(tmp_path: Path) -> None:
    start = tmp_path / "start"
    now = time.time_ns() - 3600 * 10**9
    me = socket.gethostname()

    def r(cmd, i, **kw):
        kw.setdefault("host", me)
        kw.setdefault("cwd", "/srv/app")
        return Record(cmd, now + i * 10**9, exit=0, session=kw.pop("session", "old"), **kw)

    records = [
        r("echo mark-other-host", 0, host="elsewhere"),
        r("echo mark-this-host", 1),
        r("echo mark-this-dir", 2, cwd=str(start)),
        r("echo mark-in-workspace", 3, cwd=str(start / "sub")),
    ]
    sh, screen, _ = shell(tmp_path, records)
    run_line(sh, screen, "echo mark-this-session", "mark-this-session")  # in this session
    marks = {
        "other-host",
        "this-host",
        "this-dir",
        "in-workspace",
        "this-session",
    }

    def visible(lines):
        """The hits listed (between the window's two rules), not the selected one's context."""
        rules = [i for i, x in enumerate(lines) if x.startswith("────")]
        if len(rules) < 2:
            return set()
        hits = lines[rules[0] + 1 : rules[1]]
        return {m for m in marks if any(x.lstrip(" ✗") == f"echo mark-{m}" for x in hits)}

    lines = open_window(sh, screen, "echo mark", "mark-this-session")
    assert visible(lines) == marks and "[global]" in "".join(lines)
    expected = [
        ("[host]", marks - {"other-host"}),
        ("[session]", {"this-session"}),
        ("[directory]", {"this-dir", "this-session"}),
        (f"[workspace {start.resolve()}]", {"this-dir", "in-workspace", "this-session"}),
        ("[global]", marks),
    ]
    for label, want in expected:
        sh.child.send("\x12")  # Ctrl-R
        lines = settle(
            sh,
            screen,
            lambda ls, label=label, want=want: label in "".join(ls) and visible(ls) == want,
        )
        assert visible(lines) == want, label
    sh.child.send("\x1b")
    settle(sh, screen, lambda ls: not any("search>" in x for x in ls))
    sh.exit()
    assert sh.delta_lines() == []
