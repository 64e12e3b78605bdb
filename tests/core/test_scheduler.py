"""The continuous-batching scheduler in process (deterministic: the thread starts only after
the requests are queued): batched answers equal one-at-a-time answers, a newer keystroke of
the same shell cancels the older request, late requests time out, nothing is left running."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("onnxruntime")

from delta_core.paths import Layout
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.serve.scheduler import Request, Scheduler
from delta_core.suggest.completer import ModelCompleter
from delta_core.tokenizer.format import Turn
from tests.core.serve_helpers import promoted_model

HIST = [Turn("git status", "/src", 0), Turn("make test", "/src", 2), Turn("git diff", "/src", 0)]
PREFIXES = ["g", "git ", "git s", "make", "ls", "cd ", "m", "gi", "git d", "docker ", "", "l"]


@pytest.fixture(scope="module")
def completer_factory(tmp_path_factory):
    base = tmp_path_factory.mktemp("sched")
    version = promoted_model(base / "delta", base / "work")
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    model_dir = Layout(base / "delta").models / version
    return lambda: ModelCompleter.from_dir(model_dir, plugins, backend="onnx")


class Box:
    def __init__(self) -> None:
        self.got: dict = {}
        self.done = threading.Event()
        self.want = 0

    def reply(self, key):
        def put(msg):
            self.got[key] = msg
            if len(self.got) >= self.want:
                self.done.set()

        return put


def _request(box: Box, key, session: str, prefix: str, timeout: float = 30.0) -> Request:
    deadline = time.monotonic() + timeout
    return Request(session, prefix, "/src", HIST, box.reply(key), deadline=deadline)


def test_batched_answers_equal_one_at_a_time(completer_factory):
    alone = completer_factory()
    want = {}
    for i, p in enumerate(PREFIXES):
        got = alone.complete(HIST, "/src", p)
        want[i] = [] if got is None else [got[0]]
    sched = Scheduler(completer_factory(), "v1", batching=True)
    box = Box()
    box.want = len(PREFIXES)
    for i, p in enumerate(PREFIXES):
        sched.submit(_request(box, i, f"shell{i}", p))
    sched.start()
    assert box.done.wait(60)
    for i in range(len(PREFIXES)):
        assert box.got[i]["ok"], box.got[i]
        assert [s["command"] for s in box.got[i]["suggestions"]] == want[i], PREFIXES[i]
    assert sched.counts["rows"] > sched.counts["steps"]  # requests really shared passes
    sched.stop()


def test_new_keystroke_cancels_the_previous_request_of_that_shell(completer_factory):
    sched = Scheduler(completer_factory(), "v1")
    box = Box()
    box.want = 3
    sched.submit(_request(box, "old", "shellA", "g"))
    sched.submit(_request(box, "other", "shellB", "g"))
    sched.submit(_request(box, "new", "shellA", "gi"))
    sched.start()
    assert box.done.wait(60)
    assert box.got["old"] == {**box.got["old"], "ok": False, "error": "cancelled"}
    assert box.got["new"]["ok"] and box.got["other"]["ok"]
    sched.stop()


def test_late_requests_time_out_and_others_are_served(completer_factory):
    sched = Scheduler(completer_factory(), "v1", batching=False)
    box = Box()
    box.want = 2
    sched.submit(_request(box, "late", "a", "git ", timeout=0.001))
    sched.submit(_request(box, "fine", "b", "git "))
    time.sleep(0.01)
    sched.start()
    assert box.done.wait(60)
    assert box.got["late"]["error"] == "timeout" and box.got["fine"]["ok"]
    assert sched.snapshot()["timeouts"] == 1 and not sched.running
    sched.stop()


def test_stop_refuses_queued_requests(completer_factory):
    sched = Scheduler(completer_factory(), "v1")
    box = Box()
    box.want = 1
    sched.submit(_request(box, "q", "a", "git "))
    sched.stop(grace=0.1)
    assert box.got["q"]["ok"] is False and "shutting down" in box.got["q"]["error"]
