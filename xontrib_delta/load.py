"""``xontrib load delta`` and ``xontrib unload delta``: what Delta adds to a shell, and takes away.

Load adds, and remembers: handlers on ``on_pre_prompt`` (to start the recorder in the
background once the shell is up), ``on_precommand``, ``on_postcommand`` and ``on_exit``;
the aliases ``delta``, ``:memory`` and ``:tokenizer``; the variable ``$DELTA_SESSION`` (this session's id, so
that programs run from the shell can tell which session they belong to). Unload removes
exactly those, puts back any alias or variable of the same name that was there before, and
closes the memory. Loading twice is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from delta_core import log
from xontrib_delta.aliases import make_aliases
from xontrib_delta.session import ShellRecorder, config_env

SESSION_VAR = "DELTA_SESSION"
_MISSING = object()


@dataclass
class _Loaded:
    """Everything one load added, so unload can take exactly that away."""

    recorder: ShellRecorder
    handlers: list[tuple[Any, Callable[..., Any]]] = field(default_factory=list)
    aliases: dict[str, Any] = field(default_factory=dict)
    env_vars: dict[str, Any] = field(default_factory=dict)
    undo: list[Callable[[], None]] = field(default_factory=list)  # e.g. the search key binding

    def on(self, event: Any, handler: Callable[..., Any]) -> None:
        """Add ``handler`` to ``event`` and remember it for unload."""
        event(handler)
        self.handlers.append((event, handler))

    def listen(self, recorder: ShellRecorder, listener: Callable[[Any], None]) -> None:
        """Have ``listener`` told of every finished command (the record stored, or None)."""
        recorder.listeners.append(listener)
        self.undo.append(lambda: recorder.listeners.remove(listener))


_active: _Loaded | None = None


def _getcwd() -> str:
    return os.getcwd()


def _load_xontrib_(xsh: Any, **_: Any) -> dict[str, Any]:
    """Called by ``xontrib load delta``; never raises into the shell."""
    global _active
    if _active is not None:
        return {}
    loaded: _Loaded | None = None
    try:
        env = xsh.env
        recorder = ShellRecorder(env, get_cwd=_getcwd)
        loaded = _Loaded(recorder)
        events = xsh.builtins.events

        # xonsh stores attributes on handlers, so they must be plain functions, not methods.
        def _delta_precommand(cmd: str, **kw: Any) -> None:
            recorder.on_precommand(cmd, **kw)

        def _delta_postcommand(**kw: Any) -> None:
            recorder.on_postcommand(**kw)

        def _delta_pre_prompt(**kw: Any) -> None:
            recorder.on_pre_prompt(**kw)

        for event, handler in (
            (events.on_pre_prompt, _delta_pre_prompt),
            (events.on_precommand, _delta_precommand),
            (events.on_postcommand, _delta_postcommand),
            (events.on_exit, _on_exit),
        ):
            loaded.on(event, handler)
        new_aliases = make_aliases(env.detype, recorder.using_memory)
        # Not .get(): xonsh's Aliases.get expands and Env.get fills in registered defaults.
        for name, fn in new_aliases.items():
            loaded.aliases[name] = xsh.aliases[name] if name in xsh.aliases else _MISSING  # noqa: SIM401
            xsh.aliases[name] = fn
        loaded.env_vars[SESSION_VAR] = env[SESSION_VAR] if SESSION_VAR in env else _MISSING  # noqa: SIM401
        env[SESSION_VAR] = recorder.session
        # The interactive search key (prompt_toolkit shells); its UI loads on first press.
        from xontrib_delta.search_key import DEFAULT_KEY, install

        search_key = env.get("DELTA_SEARCH_KEY", DEFAULT_KEY)
        if search_key:
            loaded.undo.append(install(xsh, search_key))
        # Alt-F / Ctrl-Right take the ghost text's next word (fish, zsh-autosuggestions).
        from xontrib_delta.word_key import DEFAULT_KEYS
        from xontrib_delta.word_key import install as install_word_keys

        word_keys = env.get("DELTA_WORD_KEYS", DEFAULT_KEYS)
        if word_keys:
            loaded.undo.append(install_word_keys(xsh, word_keys))
        _install_suggestions(xsh, recorder, loaded)
        _install_indexer(xsh, recorder, loaded)
        _install_retrainer(xsh, recorder, loaded)
        _active = loaded
        if env.get("XONSH_INTERACTIVE"):
            recorder.start(config_env(env))
        else:
            # Scripts fire no command events; build the recorder only if something needs it.
            recorder.start_later(config_env(env))
    except Exception as exc:
        log.problem(f"could not load the delta xontrib: {exc}")
        if loaded is not None:
            _active = loaded
            _unload_xontrib_(xsh)
    return {}


def _install_suggestions(xsh: Any, recorder: ShellRecorder, loaded: _Loaded) -> None:
    """Ghost text, next command, tab completion and feedback (xontrib_delta/suggest.py)."""
    from xontrib_delta.suggest import Suggestions

    sugg = Suggestions(xsh, recorder)
    sugg.install()
    loaded.undo.append(sugg.uninstall)

    def _delta_suggest_pre_prompt(**kw: Any) -> None:
        sugg.on_pre_prompt(**kw)

    loaded.on(xsh.builtins.events.on_pre_prompt, _delta_suggest_pre_prompt)
    loaded.listen(recorder, sugg.on_recorded)


def _install_indexer(xsh: Any, recorder: ShellRecorder, loaded: _Loaded) -> None:
    """The search index catches up in a detached process now and then (xontrib_delta/indexer.py)."""
    from xontrib_delta.indexer import BackgroundIndexer

    indexer = BackgroundIndexer(xsh.env.detype)
    loaded.undo.append(indexer.close)

    def _delta_index_recorded(stored: Any) -> None:
        if stored is not None:
            indexer.command_recorded()
            indexer.maybe_start()

    loaded.listen(recorder, _delta_index_recorded)


#: This shell's recorded commands between two looks at whether a retrain is due.
RETRAIN_CHECK_EVERY = 100


def _install_retrainer(xsh: Any, recorder: ShellRecorder, loaded: _Loaded) -> None:
    """Every :data:`RETRAIN_CHECK_EVERY` commands, a detached, niced ``delta model retrain
    --if-due`` looks whether the memory should retrain (delta_core/learn/retrain.py); it
    leaves at once when not, or when another retrain holds the lock."""
    count = [0]

    def _start() -> None:
        try:
            from delta_core.learn.retrain import start_detached

            start_detached(xsh.env.detype())
        except Exception as exc:  # the shell must never break
            log.problem(f"could not start the background retrain: {exc}")

    def _delta_retrain_recorded(stored: Any) -> None:
        if stored is None:
            return
        count[0] += 1
        if count[0] % RETRAIN_CHECK_EVERY == 0:
            import threading

            threading.Thread(target=_start, name="delta-retrain", daemon=True).start()

    loaded.listen(recorder, _delta_retrain_recorded)


def _restore(mapping: Any, name: str, previous: Any, what: str) -> None:
    """Put back what ``name`` was before load (or remove it); report a failure in one line."""
    try:
        if previous is _MISSING:
            if name in mapping:
                del mapping[name]
        else:
            mapping[name] = previous
    except Exception as exc:
        log.problem(f"could not remove {what}: {exc}")


def _unload_xontrib_(xsh: Any, **_: Any) -> None:
    """Called by ``xontrib unload delta``: remove every handler, alias and variable added."""
    global _active
    loaded, _active = _active, None
    if loaded is None:
        return
    for event, handler in loaded.handlers:
        try:
            event.discard(handler)
        except Exception as exc:
            log.problem(f"could not remove a handler: {exc}")
    for name, previous in loaded.aliases.items():
        _restore(xsh.aliases, name, previous, f"the alias {name}")
    for name, previous in loaded.env_vars.items():
        _restore(xsh.env, name, previous, f"${name}")
    for fn in reversed(loaded.undo):
        try:
            fn()
        except Exception as exc:
            log.problem(f"could not undo a change: {exc}")
    loaded.recorder.close()


def _on_exit(**_: Any) -> None:
    """Flush the memory when the shell exits (the fsync thread is a daemon and dies with it)."""
    if _active is not None:
        _active.recorder.close()
