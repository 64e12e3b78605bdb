"""Interactive search (atuin-like): type to filter, arrows to move, Enter runs, Tab edits.

Each hit shows its directory, when it ran, its exit status, and the commands just before and
after it in its session. Ctrl-R cycles the filter mode, as in atuin: global, this host, this
shell session, this directory, this git workspace (``search.filter_mode`` is the first one).
Usable standalone (``delta search -i``) and from xonsh through a key binding
(``xontrib_delta.search_key``, ``search.key``, Ctrl-S by default) that opens it over the
prompt: Enter puts the chosen command on the prompt and runs it, Tab puts it there to be
edited first. The window is erased when it closes, however it closes.

Nothing heavy is imported at module import; the embedder loads in a background thread while
the first results come from words and fragments alone, so the window opens at once.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

MAX_HITS = 50
SESSION_ENV = "DELTA_SESSION"  # the shell's session id, set by the xontrib


FILTER_MODES = ("global", "host", "session", "directory", "workspace")
MODE_KEY = "c-r"  # as in atuin: Ctrl-R cycles the filter mode inside the window


def git_workspace(path: str) -> str | None:
    """The top of the git work tree holding ``path`` (a ``.git`` directory or file), if any."""
    p = Path(path).resolve()
    for d in (p, *p.parents):
        if (d / ".git").exists():
            return str(d)
    return None


class SearchSession:
    """The state behind the window: query, filter mode, hits, selection, the searcher.

    Searches run in one worker thread, newest query first (an older one still running is
    answered and dropped), so a keystroke only records the query and returns: the window
    echoes it within the frame and the hits follow when the search is done.
    """

    def __init__(
        self,
        ctx,
        embedder,
        *,
        here: str | None = None,
        host: str | None = None,
        session: str | None = None,
        mode: str = "global",
    ) -> None:
        from delta_core.search.service import open_searcher

        self.ctx = ctx
        self.embedder = embedder
        self.here = here
        self.host = socket.gethostname() if host is None else host
        self.session = session
        self.workspace = git_workspace(here) if here else None
        self.mode = mode if mode in FILTER_MODES else "global"
        self.searcher = open_searcher(ctx, embedder)
        self.searcher.embedder = None  # words and fragments until the model is in
        self.hits: list = []
        self.selected = 0
        self.query = ""
        self.semantic_ready = False
        self._context_cache: dict[bytes, tuple[list, list]] = {}
        self.on_ready: Any = None
        self.on_hits: Any = None
        self._wanted: tuple[str, str] | None = None
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self.closed = False
        self.searches = 0

    def prepare(self) -> None:
        """Catch the index up and load the embedder (run in a thread: may take seconds)."""
        from delta_core.search.service import (
            SearchError,
            open_searcher,
            refresh,
            upgrade_in_background,
        )

        try:
            upgrade_in_background(self.ctx, refresh(self.ctx, self.embedder, wait=False))
            load = getattr(self.embedder, "load", None)
            if load is not None:
                load()
            self.searcher = open_searcher(self.ctx, self.embedder)
            self.semantic_ready = True
        except (SearchError, RuntimeError, OSError):
            pass  # words and fragments still work
        if self.on_ready is not None:
            self.on_ready()

    # --- filters ------------------------------------------------------------------------
    def filters(self) -> dict[str, str | None]:
        """The record filters of the current mode (``global``: none)."""
        if self.mode == "host":
            return {"host": self.host}
        if self.mode == "session":
            return {"session": self.session or ""}
        if self.mode == "directory":
            return {"cwd": self.here}
        if self.mode == "workspace":
            return {"under": self.workspace or self.here}
        return {}

    def cycle_mode(self) -> str:
        self.mode = FILTER_MODES[(FILTER_MODES.index(self.mode) + 1) % len(FILTER_MODES)]
        self.selected = 0
        return self.mode

    def mode_label(self) -> str:
        if self.mode == "workspace":
            return f"workspace {self.workspace}" if self.workspace else "workspace (no git)"
        return self.mode

    # --- searching ----------------------------------------------------------------------
    def update(self, query: str) -> None:
        """Search now, in this thread (tests, and the worker)."""
        self.query = query
        hits = self.searcher.search(
            query, limit=MAX_HITS, here=self.here, semantic=self.semantic_ready, **self.filters()
        )
        self.searches += 1
        self.selected = min(self.selected, max(0, len(hits) - 1))
        self.hits = hits  # one assignment: the window drawing in another thread sees old or new

    def current(self) -> tuple[list, int]:
        """The hits and the selected position, consistent with each other (for drawing)."""
        hits = self.hits
        return hits, max(0, min(self.selected, len(hits) - 1))

    def request(self, query: str) -> None:
        """Ask the worker for ``query`` under the current mode; returns at once."""
        with self._wake:
            self._wanted = (query, self.mode)
            self._wake.notify()
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, daemon=True, name="delta-search")
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._wanted is None and not self.closed:
                    self._wake.wait()
                if self.closed:
                    return
                query, _mode = self._wanted
                self._wanted = None
            try:
                self.update(query)
            except Exception as exc:  # the window must stay usable
                from delta_core import log

                log.problem(f"delta search: {exc}")
                continue
            if self.on_hits is not None:
                self.on_hits()

    def close(self) -> None:
        with self._wake:
            self.closed = True
            self._wake.notify()

    def move(self, step: int) -> None:
        if self.hits:
            self.selected = max(0, min(len(self.hits) - 1, self.selected + step))

    def chosen(self) -> str | None:
        hits, sel = self.current()
        return hits[sel].command if hits else None

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
    """The prompt_toolkit application; its result is ``(action, command)`` or ``None``.

    ``action`` is ``"run"`` (Enter: the command goes on the prompt and runs) or ``"edit"``
    (Tab: it goes on the prompt to be edited first). The window is erased when it closes,
    however it closes (Enter, Tab, Esc, Ctrl-C), so nothing of it stays above the prompt.
    """
    from prompt_toolkit.application import Application
    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import HSplit, Layout, Window
    from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
    from prompt_toolkit.layout.dimension import Dimension

    query = Buffer(multiline=False)

    def on_change(_=None) -> None:
        session.selected = 0
        session.request(query.text)

    query.on_text_changed += on_change

    def hit_lines():
        hits, sel = session.current()
        if not hits:
            return [("class:dim", "  no match" if query.text else "  type to search")]
        out = []
        for i, h in enumerate(hits):
            style = "reverse" if i == sel else ""
            mark = "✗" if h.exit not in (0, None) else " "
            out.append((style, f"{mark} {h.command}\n"))
        return out

    def detail_lines():
        hits, sel = session.current()
        if not hits:
            return ""
        h = hits[sel]
        before, after = session.context_of(h)
        code = "?" if h.exit is None else str(h.exit)
        lines = [("bold", f" {h.cwd}  ·  {_ago(h.start_ns)}  ·  exit {code}  ·  ×{h.count}\n")]
        lines += [("class:dim", f"   {r.command}\n") for r in before]
        lines.append(("bold", f" ▶ {h.command}\n"))
        lines += [("class:dim", f"   {r.command}\n") for r in after]
        return lines

    def status():
        kind = "meaning + words" if session.semantic_ready else "words (model loading…)"
        return [
            (
                "class:dim",
                f" [{session.mode_label()}] {kind} · ^R filter · ↑↓ move · Enter run · "
                "Tab edit · Esc cancel",
            )
        ]

    kb = KeyBindings()

    @kb.add("up")
    @kb.add("c-p")
    def _up(event):
        session.move(-1)

    @kb.add("down")
    @kb.add("c-n")
    def _down(event):
        session.move(1)

    @kb.add(MODE_KEY)
    def _mode(event):
        session.cycle_mode()
        session.request(query.text)

    def finish(event, action: str) -> None:
        chosen = session.chosen()
        session.close()
        event.app.exit(result=(action, chosen) if chosen else None)

    @kb.add("enter")
    def _enter(event):
        finish(event, "run")

    @kb.add("tab")
    def _tab(event):
        finish(event, "edit")

    @kb.add("escape", eager=True)
    @kb.add("c-c")
    @kb.add("c-g")
    def _cancel(event):
        session.close()
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
        layout=Layout(root, focused_element=query),
        key_bindings=kb,
        full_screen=False,
        erase_when_done=True,
    )

    def ready() -> None:
        session.request(query.text)
        app.invalidate()

    session.on_ready = ready
    session.on_hits = app.invalidate
    query.text = initial
    session.update(initial)  # the first hits are there when the window first draws
    threading.Thread(target=session.prepare, daemon=True, name="delta-search-prepare").start()
    return app


def run_standalone(ctx, embedder, *, initial: str = "") -> str | None:
    """Run the window in the terminal and return the chosen command (``delta search -i``)."""
    import os

    session = SearchSession(ctx, embedder, here=os.getcwd(), session=os.environ.get(SESSION_ENV))
    result = build_app(session, initial).run()
    return result[1] if result else None
