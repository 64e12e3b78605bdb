"""Suggestions in xonsh: ghost text as you type, the next command, tab completion, feedback.

xonsh has no public API to replace its history auto-suggester: it builds an
``AutoSuggestFromHistory`` in ``cmdloop`` and passes it to ``shell.singleline`` on each
prompt. We wrap ``singleline`` on the shell *instance* (the class stays untouched, so
deleting the instance attribute restores xonsh exactly) and hand prompt_toolkit a
``ThreadedAutoSuggest`` around :class:`DeltaAutoSuggest`, which falls back to xonsh's own
suggester whenever Delta has nothing, is off (``$DELTA_SUGGEST = False``) or is not ready.
The threaded wrapper means typing never waits for a suggestion.

The next command is predicted after each command in a background thread and handed to xonsh
through ``$XONSH_PROMPT_NEXT_CMD_SUGGESTION`` (shown as ghost text on the empty prompt).
Delta's candidates also appear in tab completion (completer ``delta``), replacing the line.
"""

from __future__ import annotations

import threading
from typing import Any

from delta_core import log
from delta_core.paths import DiskFull

SWITCH = "DELTA_SUGGEST"
NEXT_VAR = "XONSH_PROMPT_NEXT_CMD_SUGGESTION"
LAST_VAR = "DELTA_LAST_SUGGESTION"
COMPLETER = "delta"


def _never_exported(_value: Any) -> None:
    """A detyper that keeps a variable out of every child process's environment."""
    return None


def last_suggestion_file(root: Any, shell_pid: int) -> Any:
    """Where a shell keeps its last suggestion for ``delta feedback`` (0600, under the root)."""
    from pathlib import Path

    return Path(root) / "run" / f"last-suggestion-{shell_pid}"


def _keep_local(env: Any) -> dict[str, Any]:
    """Register the suggestion variables so that xonsh never exports them to subprocesses.

    ``$DELTA_LAST_SUGGESTION`` (and xonsh's own ``$XONSH_PROMPT_NEXT_CMD_SUGGESTION``) hold a
    command from the history; a child process has no business reading it (a suggestion of
    ``./cli login …`` would reach every program the user runs). Returns what was registered
    before, for :func:`_restore_vars`.
    """
    saved: dict[str, Any] = {}
    for name in (LAST_VAR, NEXT_VAR):
        saved[name] = getattr(env, "_vars", {}).get(name)
        try:
            # No ``type=``: xonsh would replace the detyper with its string one.
            env.register(
                name,
                default="",
                validate=lambda v: isinstance(v, str),
                convert=str,
                detype=_never_exported,
            )
        except Exception as exc:
            log.problem(f"could not keep ${name} out of subprocesses: {exc}")
    return saved


def _restore_vars(env: Any, saved: dict[str, Any]) -> None:
    """Undo :func:`_keep_local`: xonsh's own registration back, ours removed."""
    for name, var in saved.items():
        try:
            if var is not None:
                env._vars[name] = var
            else:
                env.deregister(name)
        except Exception as exc:
            log.problem(f"could not restore ${name}: {exc}")


def _enabled(env: Any) -> bool:
    value = env.get(SWITCH, True)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _redraw(xsh: Any) -> None:
    """Ask a running prompt_toolkit prompt to redraw (thread-safe); nothing without one."""
    prompter = getattr(getattr(getattr(xsh, "shell", None), "shell", None), "prompter", None)
    app = getattr(prompter, "app", None)
    if app is not None and getattr(app, "is_running", False):
        app.invalidate()


class Suggestions:
    """Everything the shell side of suggestions holds; :meth:`uninstall` removes it all."""

    def __init__(self, xsh: Any, shell_recorder: Any) -> None:
        self.xsh = xsh
        self.recorder = shell_recorder
        self.engine: Any = None
        self.tracker: Any = None
        self._early: list[Any] = []  # stored before the engine was built, replayed into it
        self._building = False
        self._patched: Any = None
        self._completer_added = False
        self._saved_vars: dict[str, Any] = {}  # variable registrations _keep_local replaced
        self._lock = threading.Lock()
        self._turn = 0  # counts finished commands: a prediction for an older one is dropped

    # --- the engine, built once the memory is open (never on the prompt path) ----------
    def _ctx(self) -> Any:
        rec = getattr(self.recorder, "_recorder", None)
        ready = getattr(self.recorder, "_ready", None)
        if rec is None or ready is None or not ready.is_set():
            return None
        return rec.ctx

    def _build(self, ctx: Any) -> None:
        try:
            from delta_core.memory.feedback import FeedbackTracker
            from delta_core.suggest.live import SuggestEngine

            self.tracker = FeedbackTracker(getattr(self.recorder, "session", ""))
            engine = SuggestEngine(ctx)
            with self._lock:
                early, self._early = self._early, []
                for rec in early:
                    engine.observe(rec)
                self.engine = engine
        except Exception as exc:
            log.problem(f"suggestions are off: {exc}")

    def ensure_engine(self) -> Any:
        if self.engine is None and not self._building:
            ctx = self._ctx()
            if ctx is not None and ctx.config["suggest.enabled"]:
                with self._lock:  # the recorder's start thread calls this too
                    if self._building:
                        return self.engine
                    self._building = True
                threading.Thread(target=self._build, args=(ctx,), daemon=True).start()
        return self.engine

    def query(self, prefix: str, limit: int = 1) -> list[Any]:
        engine = self.ensure_engine()
        if engine is None or not _enabled(self.xsh.env):
            return []
        cwd = str(self.xsh.env.get("PWD", ""))
        return engine.suggest(engine.query(prefix, cwd, limit))

    # --- the hooks ------------------------------------------------------------------
    def install(self) -> None:
        """Wrap the shell's ``singleline`` (if the shell exists yet) and add the completer;
        the engine is built as soon as the memory is open."""
        self._saved_vars = _keep_local(self.xsh.env)
        when_ready = getattr(self.recorder, "when_ready", None)
        if when_ready is not None:
            when_ready(self.ensure_engine)
        self._patch_shell()
        try:
            from xonsh.completers.completer import add_one_completer

            add_one_completer(COMPLETER, self.complete, "<history")
            self._completer_added = True
        except Exception as exc:
            log.problem(f"delta tab completion is off: {exc}")

    def _patch_shell(self) -> None:
        shell = getattr(getattr(self.xsh, "shell", None), "shell", None)
        if shell is None or self._patched is not None or not hasattr(shell, "singleline"):
            return
        original = shell.singleline
        owner = self

        def singleline(*args: Any, auto_suggest: Any = None, **kw: Any) -> Any:
            if auto_suggest is not None:
                auto_suggest = owner.auto_suggester(auto_suggest)
            return original(*args, auto_suggest=auto_suggest, **kw)

        shell.singleline = singleline
        self._patched = shell

    def auto_suggester(self, fallback: Any) -> Any:
        from prompt_toolkit.auto_suggest import ThreadedAutoSuggest

        from xontrib_delta.ghost import DeltaAutoSuggest

        return ThreadedAutoSuggest(DeltaAutoSuggest(self, fallback))

    def uninstall(self) -> None:
        if self._patched is not None:
            if "singleline" in vars(self._patched):
                del self._patched.singleline  # the class's own method shows through again
            self._patched = None
        if self._completer_added:
            try:
                self.xsh.completers.pop(COMPLETER, None)
            except Exception as exc:
                log.problem(f"could not remove the delta completer: {exc}")
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.tracker = None  # late threads stop setting variables
        env = self.xsh.env
        try:
            if LAST_VAR in env:
                del env[LAST_VAR]
            if env.get(NEXT_VAR):
                env[NEXT_VAR] = ""
        except Exception as exc:
            log.problem(f"could not remove ${LAST_VAR}: {exc}")
        _restore_vars(env, self._saved_vars)
        self._saved_vars = {}

    def complete(self, prefix: str, line: str, begidx: int, endidx: int, ctx: Any = None) -> Any:
        """Tab completion: whole command lines from Delta for the text before the cursor."""
        typed = line[:endidx]
        if not typed.strip() or endidx != len(line.rstrip("\n")):
            return None
        from xonsh.completers.tools import RichCompletion

        found = self.query(typed, limit=8)
        if not found:
            return None
        return {
            RichCompletion(
                s.command, prefix_len=len(typed), display=s.command, description=s.source
            )
            for s in found
        }

    # --- events -----------------------------------------------------------------------
    def on_pre_prompt(self, **_: Any) -> None:
        self._patch_shell()
        self.ensure_engine()

    def on_recorded(self, stored: Any) -> None:
        """The recorder finished a command: ``stored`` is the record it stored (filtered,
        redacted) or None when nothing was stored (dropped, paused, not recorded). Only what
        was stored reaches the engine's ring, the model's context and the feedback."""
        if stored is not None:
            with self._lock:
                engine = self.engine
                if engine is None:
                    self._early.append(stored)
                    del self._early[:-20]
            if engine is not None:
                engine.observe(stored)
            tracker = self.tracker
            if tracker is not None and engine is not None:
                events = tracker.ran(stored.command)
                if events:
                    try:
                        from delta_core.memory.feedback import record_feedback

                        record_feedback(engine.ctx.store, events)
                    except DiskFull:
                        pass  # the recorder said so, once; feedback is a hint, not a record
                    except Exception as exc:
                        log.problem(f"could not store suggestion feedback: {exc}", fault="memory")
        with self._lock:
            self._turn += 1
            turn = self._turn
        try:  # what was predicted after the command before is stale now
            self.xsh.env[NEXT_VAR] = ""
        except Exception as exc:
            log.problem(f"could not clear ${NEXT_VAR}: {exc}")
        if self.engine is not None:
            threading.Thread(target=self._predict_next, args=(turn,), daemon=True).start()

    def _predict_next(self, turn: int) -> None:
        """Predict the command after command number ``turn`` and show it on the empty prompt.

        Runs beside the prompt, which is usually drawn first: xonsh takes the variable in its
        next redraw, so the prompt is asked to redraw once the prediction is there. A
        prediction that arrives after a later command finished is dropped, never shown.
        """
        try:
            found = self.query("", limit=1)
            if not found or self.engine is None:
                return
            with self._lock:
                if turn != self._turn:
                    return
                self.xsh.env[NEXT_VAR] = found[0].command
            self.shown(found[0].command, "", found[0].source)
            _redraw(self.xsh)
        except Exception as exc:
            log.problem(f"next-command suggestion failed: {exc}")

    def shown(self, suggestion: str, typed: str, source: str) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        if typed and tracker._shown and typed == tracker._shown[0]:
            tracker.taken(typed)  # the ghost text was taken in full
        tracker.shown(suggestion, typed, source)
        try:
            self.xsh.env[LAST_VAR] = suggestion  # process-local: never exported (_keep_local)
        except Exception as exc:
            log.problem(f"could not set ${LAST_VAR}: {exc}")
        ctx = self._ctx()
        if ctx is not None:
            try:
                import os

                from delta_core.paths import write_private

                write_private(last_suggestion_file(ctx.config.root, os.getpid()), suggestion)
            except Exception as exc:
                log.problem(f"could not note the last suggestion for delta feedback: {exc}")
