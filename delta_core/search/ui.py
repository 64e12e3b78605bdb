"""Interactive search (fzf-like): type to filter, arrows to move, Enter puts the command back.

Each hit shows its directory, when it ran, its exit status, and the commands just before and
after it in its session. Usable standalone (``delta search -i``) and from xonsh through a key
binding (``xontrib_delta.search_key``, ``search.key``, Ctrl-S by default) that opens it over
the prompt and puts the chosen command in the prompt's buffer, not running it.

Nothing heavy is imported at module import; the embedder loads in a background thread while
the first results come from words and fragments alone, so the window opens at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

MAX_HITS = 50


class SearchSession:
    """The state behind the window: query, hits, selection, and the searcher being prepared."""

    def __init__(self, ctx, embedder, *, here: str | None = None) -> None:
        from delta_core.search.service import open_searcher

        self.ctx = ctx
        self.embedder = embedder
        self.here = here
        self.searcher = open_searcher(ctx, embedder)
        self.searcher.embedder = None  # words and fragments until the model is in
        self.hits: list = []
        self.selected = 0
        self.semantic_ready = False
        self._context_cache: dict[bytes, tuple[list, list]] = {}
        self.on_ready: Any = None

    def prepare(self) -> None:
        """Catch the index up and load the embedder (run in a thread: may take seconds)."""
        from delta_core.search.service import SearchError, open_searcher, refresh

        try:
            refresh(self.ctx, self.embedder, wait=False)
            load = getattr(self.embedder, "load", None)
            if load is not None:
                load()
            self.searcher = open_searcher(self.ctx, self.embedder)
            self.semantic_ready = True
        except (SearchError, RuntimeError, OSError):
            pass  # words and fragments still work
        if self.on_ready is not None:
            self.on_ready()

    def update(self, query: str) -> None:
        self.hits = self.searcher.search(
            query, limit=MAX_HITS, here=self.here, semantic=self.semantic_ready
        )
        self.selected = min(self.selected, max(0, len(self.hits) - 1))

    def move(self, step: int) -> None:
        if self.hits:
            self.selected = max(0, min(len(self.hits) - 1, self.selected + step))

    def chosen(self) -> str | None:
        return self.hits[self.selected].command if self.hits else None

    def context_of(self, hit) -> tuple[list, list]:
        from delta_core.search.service import neighbours

        if hit.key not in self._context_cache:
            self._context_cache[hit.key] = neighbours(self.ctx.store, hit, 2)
        return self._context_cache[hit.key]


def _ago(ns: int) -> str:
    age = time.time() - ns / 1e9
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60)):
        if age >= secs:
            return f"{int(age // secs)}{unit} ago"
    return "now"


def build_app(session: SearchSession, initial: str = ""):
    """The prompt_toolkit application; its result is the chosen command or ``None``."""
    from prompt_toolkit.application import Application
    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import HSplit, Layout, Window
    from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
    from prompt_toolkit.layout.dimension import Dimension

    query = Buffer(multiline=False)

    def on_change(_=None) -> None:
        session.selected = 0
        session.update(query.text)

    query.on_text_changed += on_change

    def hit_lines():
        if not session.hits:
            return [("class:dim", "  no match" if query.text else "  type to search")]
        out = []
        for i, h in enumerate(session.hits):
            style = "reverse" if i == session.selected else ""
            mark = "✗" if h.exit not in (0, None) else " "
            out.append((style, f"{mark} {h.command}\n"))
        return out

    def detail_lines():
        if not session.hits:
            return ""
        h = session.hits[session.selected]
        before, after = session.context_of(h)
        code = "?" if h.exit is None else str(h.exit)
        lines = [("bold", f" {h.cwd}  ·  {_ago(h.start_ns)}  ·  exit {code}  ·  ×{h.count}\n")]
        lines += [("class:dim", f"   {r.command}\n") for r in before]
        lines.append(("bold", f" ▶ {h.command}\n"))
        lines += [("class:dim", f"   {r.command}\n") for r in after]
        return lines

    def status():
        mode = "meaning + words" if session.semantic_ready else "words (model loading…)"
        return [("class:dim", f" delta search · {mode} · ↑↓ move · Enter choose · Esc cancel")]

    kb = KeyBindings()

    @kb.add("up")
    @kb.add("c-p")
    def _up(event):
        session.move(-1)

    @kb.add("down")
    @kb.add("c-n")
    def _down(event):
        session.move(1)

    @kb.add("enter")
    def _enter(event):
        event.app.exit(result=session.chosen())

    @kb.add("escape", eager=True)
    @kb.add("c-c")
    @kb.add("c-g")
    def _cancel(event):
        event.app.exit(result=None)

    root = HSplit(
        [
            Window(BufferControl(query), height=1, get_line_prefix=lambda *_: "search> "),
            Window(height=1, char="─"),
            Window(FormattedTextControl(hit_lines), height=Dimension(min=3, max=12)),
            Window(height=1, char="─"),
            Window(FormattedTextControl(detail_lines), height=Dimension(min=3, max=7)),
            Window(FormattedTextControl(status), height=1),
        ]
    )
    app = Application(
        layout=Layout(root, focused_element=query), key_bindings=kb, full_screen=False
    )

    def ready() -> None:
        session.update(query.text)
        app.invalidate()

    session.on_ready = ready
    query.text = initial
    on_change()
    threading.Thread(target=session.prepare, daemon=True, name="delta-search-prepare").start()
    return app


def run_standalone(ctx, embedder, *, initial: str = "") -> str | None:
    """Run the window in the terminal and return the chosen command (``delta search -i``)."""
    import os

    return build_app(SearchSession(ctx, embedder, here=os.getcwd()), initial).run()
