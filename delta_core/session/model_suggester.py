"""The ``model`` suggester: completions from the served model (``delta model promote``).

With ``serve.auto_start`` (the default) it asks ``delta serve`` (started on demand, in the
background) and waits at most ``serve.timeout_ms``; when the server is absent or late it
answers nothing and the shell shows history. Otherwise it loads the model in the shell:

The model loads in a background thread on first use and again whenever the ``active``
pointer changes (its mtime is checked at most once a second), so a promoted model reaches
a running shell without a restart. Until it is loaded, or while another request holds it,
the suggester answers nothing at once: typing never waits for it.

Its context is the engine's ring of recent commands, as the recorder stored them (filtered,
redacted), so nothing the privacy filters removed reaches the model or ``delta serve``. The
built-in plugin ``suggest_model`` registers it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from delta_core.plugin.protocols import (
    BaseSuggester,
    RecentCommands,
    SuggesterRole,
    Suggestion,
    SuggestQuery,
)
from delta_core.suggest.engine import CompletionMemo
from delta_core.tokenizer.format import Turn, as_turn

POLL_S = 1.0
MAX_TURNS = 200


class ModelSuggester(BaseSuggester):
    name = "model"
    role: SuggesterRole = "model"

    def __init__(self) -> None:
        self.layout: Any = None
        self.plugins: dict[str, Any] = {}
        self.completer: Any = None
        self.version: str | None = None
        self.ring = RecentCommands()
        self._turns: tuple[int, list[Turn]] = (-1, [])  # (ring version, its turns)
        self.memo = CompletionMemo()
        self._stamp = -1.0
        self._checked = 0.0
        self._busy = threading.Lock()
        self._loading: threading.Thread | None = None
        self.remote: Any = None  # a RemoteModel when the server is used
        self.backend = "auto"  # serve.backend, set by attach
        self.store: Any = None
        # (version, typed?) -> its weight (fitted, else default)
        self._weights: dict[tuple[str, bool], float] = {}

    def attach(self, ctx: Any, recent: RecentCommands) -> None:
        self.ring = recent
        self.layout = ctx.layout
        self.backend = ctx.config["serve.backend"]  # in process too: the model that was gated
        self.plugins = ctx.components.tokenizers
        self.store = getattr(ctx, "store", None)
        if ctx.config["serve.auto_start"]:
            # the model lives in `delta serve`, shared by every shell; none is loaded here
            from delta_core.serve.remote import RemoteModel

            self.remote = RemoteModel(ctx.layout, ctx.config["serve.timeout_ms"])
            from delta_core.learn.deploy import active_version

            if active_version(ctx.layout):  # nothing promoted: no server to start
                self.remote.warm()

    def _load(self, version: str) -> None:
        try:
            from delta_core.inference.backends import loadable_kind
            from delta_core.suggest.completer import ModelCompleter

            completer = ModelCompleter.from_dir(
                self.layout.models / version, self.plugins, backend=loadable_kind(self.backend)
            )
            completer.complete([], "", "")  # warm up: the first forward is the slow one
        except Exception as exc:
            from delta_core import log

            log.problem(f"cannot load model {version} for suggestions: {exc}", self.layout.log_file)
            return
        with self._busy:
            self.completer, self.version = completer, version
            self.memo = CompletionMemo()

    def refresh(self) -> None:
        """Start loading the served model if the pointer changed (cheap; at most once a second)."""
        now = time.monotonic()
        if self.remote is not None or self.layout is None or now - self._checked < POLL_S:
            return
        self._checked = now
        from delta_core.learn.deploy import active_stamp, active_version

        stamp = active_stamp(self.layout)
        if stamp == self._stamp or (self._loading is not None and self._loading.is_alive()):
            return
        self._stamp = stamp
        version = active_version(self.layout)
        if not version:  # no model served any more (`delta model use none`): history alone
            with self._busy:
                self.completer, self.version = None, None
            return
        if version != self.version:
            self._loading = threading.Thread(target=self._load, args=(version,), daemon=True)
            self._loading.start()

    def ready(self) -> bool:
        return self.completer is not None

    def weight(self, prefix: str = "") -> float:
        """The served model's weight against history in the mixture (fitted for that model,
        :mod:`delta_core.suggest.fit`; the default when none was)."""
        from delta_core.suggest.engine import MODEL_WEIGHT

        if self.remote is None:
            if prefix:
                return getattr(self.completer, "typed_weight", MODEL_WEIGHT)
            return getattr(self.completer, "model_weight", MODEL_WEIGHT)
        version = self.remote.version
        if not version or self.layout is None:
            return MODEL_WEIGHT
        key = (version, bool(prefix))
        if key not in self._weights:
            from delta_core.suggest.fit import load_typed_weight, model_weight_for

            base = model_weight_for(self.layout.models / version)
            typed = load_typed_weight(self.layout.models / version) if prefix else None
            self._weights[key] = base if typed is None else typed
        return self._weights[key]

    def turns(self) -> list[Turn]:
        """The model's context: the ring's last ``MAX_TURNS`` records (rebuilt when it grows)."""
        version, turns = self._turns
        if version != self.ring.version:
            turns = [as_turn(r) for r in self.ring.records()[-MAX_TURNS:]]
            self._turns = (self.ring.version, turns)
        return turns

    def _drafts(self, prefix: str) -> list[str]:
        """History commands starting with ``prefix``: drafts for speculative decoding."""
        if not prefix or self.store is None:
            return []
        from itertools import islice

        from delta_core.memory.lmdb_env import read_txn

        try:
            index = self.store.index
            with read_txn(index.env) as txn:
                return [st.command for st in islice(index.iter_commands(txn, prefix), 4)]
        except Exception:
            return []

    def _remote(self, query: SuggestQuery) -> list[Suggestion]:
        from delta_core.learn.deploy import active_version

        if self.layout is None or (self.remote.client is None and not active_version(self.layout)):
            return []  # nothing promoted: no server to start
        turns = self.turns() or [Turn(c) for c in query.previous]
        context = (self.ring.version, query.previous, query.cwd, self.remote.version)
        hit, got = self.memo.get(context, query.prefix)
        if not hit:
            found = self.remote.suggest(
                turns, query.cwd, query.prefix, drafts=self._drafts(query.prefix)
            )
            if found is None:
                return []  # absent or late: the shell shows history
            got = found[0] if found else None
            self.memo.put(context, query.prefix, got)
        return [] if got is None else [Suggestion(got[0], got[1], "model")]

    def suggest(self, query: SuggestQuery) -> list[Suggestion]:
        if self.remote is not None:
            return self._remote(query)
        self.refresh()
        if self.completer is None or not self._busy.acquire(blocking=False):
            return []
        try:
            turns = self.turns() or [Turn(c) for c in query.previous]
            context = (self.ring.version, query.previous, query.cwd)
            hit, got = self.memo.get(context, query.prefix)
            if not hit:
                got = self.completer.complete(turns, query.cwd, query.prefix)
                self.memo.put(context, query.prefix, got)
        finally:
            self._busy.release()
        return [] if got is None else [Suggestion(got[0], got[1], "model")]
