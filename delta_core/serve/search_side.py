"""The search side of ``delta serve``: the embedder and the index stay loaded for every client.

A query from a shell's window or from ``delta search`` then costs the search alone (the
embedder's load, about a second cold, and the index's are paid once per server). Op:

``{"op": "search", "id": 3, "query": "initialize a repository", "limit": 10, "sync": true,
"cwd": null, "since_ns": null, "exit": null, "here": "/src", "host": null, "session": null,
"under": null, "semantic": true}``
    ``sync``: first catch the index up with the memory (new commands embedded here, where
    the model is loaded; skipped when another process is at it). Answer ``{"id": 3, "ok":
    true, "hits": [{"command", "score", "ns", "time", "cwd", "exit", "count", "signals",
    "key"}], "ms": server time}``, or ``{"ok": false, "error": "..."}``.

The saved state is reopened when its generation changes (another process synced), checked
at most every :data:`RECHECK_S`. Requests are answered in a worker thread, one at a time
(the model and the index are shared), so the server's event loop never waits on them.
:func:`remote_search` is the client's half: ``None`` when no server answers in time, and the
caller searches in-process.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from delta_core.paths import Layout

RECHECK_S = 1.0
MAX_LIMIT = 200
MAX_QUERY = 2000
SERVER_ENV = "DELTA_SEARCH_SERVER"  # "0": never ask the server (benchmarks, tests)


class SearchSide:
    """Answers ``search`` requests over one Delta root; everything loads on first use."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._embedder: Any = None
        self._searcher: Any = None
        self._gen: str | None = None
        self._checked = 0.0
        self.served = 0

    def available(self) -> bool:
        """Whether search can run here at all (an embedder and the index library)."""
        import importlib.util

        try:
            self.embedder()
        except Exception:
            return False
        return importlib.util.find_spec("usearch") is not None

    def embedder(self) -> Any:
        if self._embedder is None:
            from delta_core.search.service import get_embedder

            self._embedder = get_embedder(self.ctx)
        return self._embedder

    def _current(self) -> Path:
        from delta_core.search.state import search_dir

        return search_dir(self.ctx.layout.root, self.embedder().name) / "current"

    def searcher(self, *, force: bool = False) -> Any:
        """The searcher over the newest saved state (reopened when another process saved)."""
        from delta_core.search.service import open_searcher

        now = time.monotonic()
        if self._searcher is not None and not force and now - self._checked < RECHECK_S:
            return self._searcher
        self._checked = now
        try:
            gen = self._current().read_text().strip()
        except OSError:
            gen = None
        if self._searcher is None or gen != self._gen or force:
            self._searcher = open_searcher(self.ctx, self.embedder())
            self._gen = gen
        return self._searcher

    def warm(self) -> None:
        """Load the embedder and the index now (the server calls this in a thread at start)."""
        with self._lock:
            emb = self.embedder()
            load = getattr(emb, "load", None)
            if load is not None:
                load()
            self.searcher()

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        """One request -> its answer (never raises: a bad request is an error answer)."""
        t0 = time.perf_counter()
        try:
            args = _arguments(msg)
        except (TypeError, ValueError) as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        try:
            with self._lock:
                if msg.get("sync"):
                    from delta_core.search.service import refresh, upgrade_in_background

                    report = refresh(self.ctx, self.embedder(), wait=False)
                    upgrade_in_background(self.ctx, report)
                    searcher = self.searcher(force=bool(report and report.changed))
                else:
                    searcher = self.searcher()
                hits = searcher.search(args.pop("query"), **args)
                self.served += 1
        except Exception as exc:  # one line for the client; the server goes on
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {
            "ok": True,
            "hits": [{**h.as_json(), "ns": h.start_ns} for h in hits],
            "ms": round((time.perf_counter() - t0) * 1e3, 2),
        }


def _arguments(msg: dict[str, Any]) -> dict[str, Any]:
    query = msg.get("query", "")
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise ValueError(f"query is a string of at most {MAX_QUERY} characters")
    out: dict[str, Any] = {"query": query}
    limit = msg.get("limit", 10)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit is an integer from 1 to {MAX_LIMIT}")
    out["limit"] = limit
    for name in ("cwd", "here", "host", "session", "under"):
        v = msg.get(name)
        if v is not None and not isinstance(v, str):
            raise ValueError(f"{name} is a string or null")
        out[name] = v
    for name in ("since_ns", "exit"):
        v = msg.get(name)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise ValueError(f"{name} is an integer or null")
        out[name] = v
    out["semantic"] = bool(msg.get("semantic", True))
    return out


def remote_search(
    layout: Layout, request: dict[str, Any], timeout: float = 5.0
) -> list[dict] | None:
    """The server's hits for ``request``, or ``None`` when no server answers (search here)."""
    import os

    from delta_core.serve.launch import connect

    if os.environ.get(SERVER_ENV, "1") == "0":
        return None
    client = connect(layout, timeout=0.2)
    if client is None:
        return None
    try:
        got = client.call({"op": "search", **request}, timeout)
    except (OSError, ValueError):  # gone, late, or garbled: answer in-process instead
        return None
    finally:
        client.close()
    if not got.get("ok"):
        return None
    hits = got.get("hits")
    return hits if isinstance(hits, list) else None


def hit_from_json(row: dict[str, Any]):
    """A :class:`~delta_core.search.hybrid.Hit` rebuilt from the wire."""
    from delta_core.search.hybrid import Hit

    return Hit(
        command=row["command"],
        score=float(row["score"]),
        key=bytes.fromhex(row["key"]),
        start_ns=int(row["ns"]),
        cwd=row["cwd"],
        exit=row["exit"],
        count=int(row["count"]),
        signals=list(row.get("signals", [])),
    )
