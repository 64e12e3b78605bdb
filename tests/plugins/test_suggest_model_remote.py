"""The shell's model suggester through ``delta serve``: it starts the server on demand without
waiting for it, answers nothing (so the shell shows history) while the server is absent,
uses its completions once it runs, and falls back again when it goes away."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")

from delta_core.context import DeltaContext
from delta_core.plugin.protocols import SuggestQuery
from delta_core.serve.launch import status, stop
from delta_core.serve.protocol import socket_path
from delta_core.suggest.live import SuggestEngine
from tests.conftest import make_record, wait_for
from tests.core.serve_helpers import promoted_model


def test_model_suggestions_come_from_the_server_with_history_as_fallback(
    delta_home, tmp_path, monkeypatch
):
    monkeypatch.setenv("DELTA_SERVE_IDLE_EXIT_S", "30")  # whatever happens, it goes away
    monkeypatch.setenv("DELTA_SERVE_TIMEOUT_MS", "5000")  # a loaded CI machine is slow
    promoted_model(delta_home, tmp_path / "work")
    ctx = DeltaContext()
    ctx.store.add_many([make_record(i, "git status") for i in range(3)])
    engine = SuggestEngine(ctx, model_budget_s=10.0)
    model = engine.suggesters["model"]
    q = SuggestQuery("git ", "/src", ("git status",), limit=3)
    try:
        first = engine.suggest(q)  # no server yet: history only, and the server is starting
        assert [s.source for s in first] == ["history"]
        assert wait_for(lambda: status(ctx.layout) is not None, 60), "the server never started"
        got = []

        def from_server() -> bool:
            got[:] = model.suggest(SuggestQuery("git ", "/src", ("git status",)))
            return bool(got)

        assert wait_for(from_server, 30)
        assert got[0].source == "model" and got[0].command.startswith("git ")
        assert status(ctx.layout)["served"] >= 1  # it really came from the server
        assert stop(ctx.layout)
        assert not socket_path(ctx.layout).exists()
        model.memo.put(None, "", None)  # forget the cached completion: ask again
        after = engine.suggest(SuggestQuery("git s", "/src", ("git status",), limit=3))
        assert [s.source for s in after] == ["history"]
    finally:
        stop(ctx.layout)
        engine.close()
        ctx.close()
