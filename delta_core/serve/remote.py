"""The shell's side of ``delta serve``: ask the server, never wait longer than the budget.

:class:`RemoteModel` keeps one connection per shell, starts the server on demand (detached,
rate-limited) when none answers, restarts it at once when it died (a stale ``serve.pid``),
and gives up on a request after ``timeout_ms``: the caller then shows history suggestions.
A connection the server closed (idle too long, restarted) is replaced once, at the next
request, without losing that request. Each shell is its own ``session`` at the server, so its KV
cache is kept there between keystrokes and a new keystroke cancels the previous request.
No torch or onnxruntime is imported here.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from delta_core.paths import Layout
from delta_core.serve.launch import claim_dead_server, connect, start_detached
from delta_core.serve.protocol import MAX_COMMAND, MAX_HISTORY, MAX_PREFIX
from delta_core.tokenizer.format import CONTEXT_CHARS, split_typed

#: After a failed connection, seconds before trying again (keystrokes stay instant).
RECONNECT_S = 0.5


def stable_window(history: Sequence[Any], size: int = MAX_HISTORY // 2) -> list[Any]:
    """The last ``size`` to ``2 * size`` turns, starting at a multiple of ``size``.

    The start moves only every ``size`` commands, so consecutive prompts at the server
    share their beginning and its KV cache (a window sliding by one command would not).
    """
    items = list(history)
    start = max(0, (len(items) // size - 1) * size)
    return items[start:]


class RemoteModel:
    def __init__(self, layout: Layout, timeout_ms: int = 40, auto_start: bool = True) -> None:
        self.layout = layout
        self.timeout = timeout_ms / 1000
        self.auto_start = auto_start
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client: Any = None
        self._retry_at = 0.0
        self.version: str | None = None

    def _client(self) -> Any:
        if self.client is not None:
            return self.client
        now = time.monotonic()
        if now < self._retry_at:
            return None
        self.client = connect(self.layout, timeout=self.timeout)
        if self.client is None:
            self._retry_at = now + RECONNECT_S
            if self.auto_start:
                # a server that died is restarted now; one that cannot start, not each time
                start_detached(self.layout, force=claim_dead_server(self.layout) is not None)
        return self.client

    def warm(self) -> None:
        """Connect now, starting the server if none answers (from a background thread).

        A shell calls this when its engine is built, so the model is loaded by the time the
        user types; starting it at the first keystroke would leave that command without one.
        """
        self._client()

    def suggest(
        self,
        history: Sequence[Any],
        cwd: str,
        prefix: str,
        k: int = 1,
        drafts: Sequence[str] = (),
        timeout: float | None = None,
    ) -> list[tuple[str, float]] | None:
        """The server's completions, or None when it is absent, late or failing."""
        if "\n" in prefix:
            return []  # the model completes one line (the server refuses more): ask nothing
        client = self._client()
        if client is None:
            return None
        timeout = self.timeout if timeout is None else timeout
        # The model reads only the tail of a long command (see format.CONTEXT_CHARS): only
        # that is sent, so a 1 MB command stays within the frame limit and costs nothing.
        head, prefix = split_typed(prefix)
        if len(prefix) > MAX_PREFIX:  # the server refuses more: send the tail it accepts
            head, prefix = head + prefix[:-MAX_PREFIX], prefix[-MAX_PREFIX:]
        sent = min(CONTEXT_CHARS, MAX_COMMAND)  # what the model reads and the server takes
        msg = {
            "op": "suggest",
            "session": self.session,
            "prefix": prefix,
            "cwd": cwd,
            "history": [[t.command[-sent:], t.cwd, t.exit] for t in stable_window(history)],
            "k": k,
            "drafts": [] if head else [d for d in drafts if len(d) <= sent],
            "timeout_ms": int(max(timeout * 1000 * 4, 200)),  # late answers still warm the cache
        }
        try:
            try:
                got = client.call(msg, timeout)
            except ConnectionError:
                # the server closed this connection since the last request: one new one
                self.close()
                client = self._client()
                if client is None:
                    return None
                got = client.call(msg, timeout)
        except TimeoutError:
            return None  # the answer comes later and is dropped; history is shown meanwhile
        except (OSError, ValueError):
            self.close()
            return None
        if not got.get("ok"):
            return None
        self.version = got.get("model")
        return [(head + s["command"], float(s["score"])) for s in got.get("suggestions", [])]

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
