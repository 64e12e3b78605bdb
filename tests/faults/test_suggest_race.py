"""The shell asks for suggestions from several threads at once (prompt_toolkit's threaded
auto-suggester for each keystroke, the next-command thread after each command, tab
completion) while the main thread reports commands: on a real store, none of them may see
another's read transaction (the intermittent ``'NoneType' object has no attribute 'cursor'``
/ ``'get'`` of issue 14) or a recent-commands list changing under it."""

from __future__ import annotations

import sys
import threading

import pytest

from delta_core.context import DeltaContext
from delta_core.plugin.protocols import SuggestQuery
from delta_core.records.record import Record
from delta_core.suggest.live import SuggestEngine
from tests.conftest import make_record

COMMANDS = ["git status", "git commit -m x", "make test", "ls -la", "cd src", "vim a.c"] * 40


def test_concurrent_suggestions_and_observations_never_fail(delta_home, monkeypatch):
    ctx = DeltaContext(delta_home)
    ctx.store.add_many(make_record(i, command=c) for i, c in enumerate(COMMANDS))
    engine = SuggestEngine(ctx)
    history = engine.suggesters["history"]
    errors: list[str] = []
    answered = [0]
    stop = threading.Event()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows

    def ask(prefixes: list[str]) -> None:
        while not stop.is_set():
            for p in prefixes:
                try:
                    got = history.suggest(SuggestQuery(p, "/home/ada", ("make test",), limit=3))
                    answered[0] += bool(got) or p == "zz"
                except Exception as exc:  # what the engine would log as "suggester history"
                    errors.append(f"{type(exc).__name__}: {exc}")

    def observe() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            engine.observe(Record(f"echo {i % 300}", 10**18 + i, "/tmp", 0))

    threads = [threading.Thread(target=ask, args=(["g", "git ", "m", "", "zz"],)) for _ in range(4)]
    threads.append(threading.Thread(target=observe))
    try:
        for t in threads:
            t.start()
        stop.wait(3.0)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        sys.setswitchinterval(old)
    engine.close()
    ctx.close()
    assert answered[0] > 0
    assert errors == [], f"{len(errors)} failures, first: {errors[:3]}"


REINDEX = "from delta_core.memory.store import Store; s = Store(); s.reindex(); s.close()"


@pytest.mark.timeout(180)  # it used to deadlock: the shell hung
def test_suggestions_go_on_while_another_process_rebuilds_the_index(delta_home):
    """Another process's ``reindex`` swaps the index files; the shell's next write reopens
    them and closes the old environment, under a suggestion thread reading it. Both threads
    opened the new index's tables at once, and py-lmdb deadlocked them (the recorder never
    returned: the shell hung); then the reader met the closed environment."""
    import subprocess

    ctx = DeltaContext(delta_home)
    ctx.store.add_many(make_record(i, command=c) for i, c in enumerate(COMMANDS))
    engine = SuggestEngine(ctx)
    history = engine.suggesters["history"]
    errors: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                history.suggest(SuggestQuery("g", "/home/ada", ("make test",), limit=3))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(6):
            subprocess.run([sys.executable, "-c", REINDEX], check=True, timeout=60)
            for i in range(20):  # the shell records: its writes reopen the swapped index
                ctx.store.add(make_record(10_000 + n * 100 + i, command=f"echo {n} {i}"))
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    engine.close()
    ctx.close()
    assert errors == [], f"{len(errors)} failures, first: {errors[:3]}"
