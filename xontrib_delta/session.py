"""One xonsh session's recording: the event handlers around :class:`delta_core.session.recorder.Recorder`.

Start-up cost is kept off the shell's start: this module imports only the standard library and
:mod:`delta_core.log`. The recorder (config, plugins, LMDB) is built by a background thread
started at load, which normally finishes while the user reads the first prompt. Nothing in
the shell waits for it: a command typed before it is done is noted (text, cwd, start time,
exit status, duration, a copy of the set variables for the collectors), runs at once, and its
next prompt draws at once; the start stores the noted commands, in order, before it lets any
later command be recorded directly. Every other command is committed before its next
prompt. An exit waits only for a start that still holds noted commands (they are not lost);
a start not begun and holding none builds nothing. Nothing here raises into the shell: every
failure becomes one line (``delta: …``, printed once per distinct message) and the command
still runs.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from delta_core import log

# How long the first command waits for the background start before going unrecorded; only a
# hung filesystem gets near it.
READY_TIMEOUT_S = 10.0
# The background start waits for the first prompt and then this long (or for the first
# command, if sooner) so that it does not compete with xonsh for the interpreter while xonsh
# is still starting and drawing its first prompt.
START_DELAY_S = 0.1
FIRST_PROMPT_WAIT_S = 5.0
# The interpreter's switch interval while the recorder is built in the background.
BUILD_SWITCH_INTERVAL_S = 0.0005


@dataclass
class _Early:
    """A command that started before the recorder was built, as the collectors need it."""

    command: str
    cwd: str
    start_ns: int
    env: dict[str, str]


class EnvView(Mapping):
    """xonsh's typed environment seen as strings, the way a subprocess would see it.

    Collectors read a handful of variables per command; converting only those keeps the
    prompt path cheap (``Env.detype()`` rebuilds a full dict whenever any variable changed,
    and xonsh changes ``$LAST_RETURN_CODE`` after every command).
    """

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getitem__(self, key: str) -> str:
        value = self._env[key]
        if isinstance(value, str):
            return value
        detyper = self._env.get_detyper(key) if hasattr(self._env, "get_detyper") else None
        out = detyper(value) if detyper is not None else None
        if out is None:
            raise KeyError(key)
        return out

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key] if key in self._env else default
        except Exception:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def snapshot(self) -> dict[str, str]:
        """The variables that are set, as strings, copied now (what a subprocess would get).

        xonsh's ``Env.detype()`` (cached until a variable changes) leaves out the registered
        defaults: reading every default would evaluate them, and some import half of
        prompt_toolkit.
        """
        detype = getattr(self._env, "detype", None)
        if detype is not None:
            try:
                return dict(detype())
            except Exception:
                pass
        return {k: v for k, v in self._env.items() if isinstance(v, str)}

    def __len__(self) -> int:
        return len(self._env)


def config_env(env: Any) -> dict[str, str]:
    """The variables Delta's configuration reads: ``DELTA_*``, ``HOME``, ``XDG_CONFIG_HOME``.

    Much cheaper at load than ``Env.detype()``, which converts every variable.
    """
    view = EnvView(env)
    out = {}
    for key in list(env):
        if key.startswith("DELTA_") or key in ("HOME", "XDG_CONFIG_HOME"):
            value = view.get(key)
            if value is not None:
                out[key] = value
    return out


class ShellRecorder:
    """Records the commands of one interactive xonsh session."""

    def __init__(
        self,
        env: Any,
        *,
        session: str | None = None,
        get_cwd: Callable[[], str] | None = None,
    ) -> None:
        self.session = session or uuid.uuid4().hex
        self.env = EnvView(env)
        self._get_cwd = get_cwd
        self._ready = threading.Event()
        self._go = threading.Event()
        self._prompted = threading.Event()
        self._recorder: Any = None
        self._error: str | None = None
        self._pending: Any = None
        self._thread: threading.Thread | None = None
        self._config_env: dict[str, str] | None = None
        self._closed = False
        # commands finished before the start was done, stored by the start (under _lock)
        self._early: list[tuple[_Early, int | None, float | None]] = []
        #: Called after each finished command with the record stored (None: nothing stored).
        #: The one path of a shell event: suggestions, the model's context and the search
        #: indexer all learn of a command from here, as stored, never from the raw text.
        self.listeners: list[Callable[[Any], None]] = []
        self._lock = threading.Lock()
        self._when_ready: list[Callable[[], Any]] = []

    # --- start-up ---------------------------------------------------------------------
    def start(self, config_env: dict[str, str]) -> None:
        """Build the recorder in a background thread (``config_env``: the detyped environment)."""
        self._config_env = config_env
        self._thread = threading.Thread(
            target=self._build_later, args=(config_env,), name="delta-start", daemon=True
        )
        self._thread.start()

    def start_later(self, config_env: dict[str, str]) -> None:
        """Build the recorder on first use, in the calling thread (non-interactive shells)."""
        self._config_env = config_env

    def _build_later(self, config_env: dict[str, str]) -> None:
        if self._prompted.wait(FIRST_PROMPT_WAIT_S):
            self._go.wait(START_DELAY_S)
        with self._lock:
            nothing_to_do = self._closed and not self._early
        if nothing_to_do:  # the shell left before it was needed: build nothing
            self._ready.set()
            return
        self._build(config_env)

    def _build(self, config_env: dict[str, str]) -> None:
        # While this thread imports and opens the store, the shell's thread (which waits on
        # the terminal and on commands, releasing the interpreter each time) gets it back
        # within 0.5 ms instead of the 5 ms default switch interval.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, BUILD_SWITCH_INTERVAL_S))
        try:
            self._build_now(config_env)
        finally:
            sys.setswitchinterval(interval)

    def _build_now(self, config_env: dict[str, str]) -> None:
        rec = None
        try:
            from delta_core.context import DeltaContext
            from delta_core.session.recorder import Recorder

            ctx = DeltaContext(env=config_env)
            rec = Recorder(ctx, shell="xonsh", session=self.session)
            _ = rec.ctx.components  # load plugins now, not on the first command
            _prepare_store(rec)
        except Exception as exc:
            self._error = f"not recording this session: {exc}"
            rec = None
        with self._lock:
            # the commands that ran meanwhile, stored before any later one (which waits here)
            early, self._early = self._early, []
            if early and rec is None and self._error is not None:
                log.problem(self._error)
            for noted in early:
                self._record_early(rec, *noted)
            unused = rec if self._closed else None  # closed while starting: nothing more
            self._recorder = None if unused else rec
            self._ready.set()
        if unused is not None:
            with contextlib.suppress(Exception):
                unused.close()
            return
        for fn in self._when_ready:
            try:
                fn()
            except Exception as exc:
                log.problem(f"could not start suggestions: {exc}")

    def when_ready(self, fn: Callable[[], Any]) -> None:
        """Call ``fn`` once the recorder is built (now, if it is), in the thread that built it.

        Nothing in the shell waits for the start, so whatever needs the memory (the
        suggestion engine) starts from here rather than on the next prompt.
        """
        with self._lock:
            if not self._ready.is_set():
                self._when_ready.append(fn)
                return
        fn()

    def _record_early(
        self, rec: Any, early: _Early, exit_status: int | None, duration: float | None
    ) -> None:
        if rec is None:
            return
        try:
            pending = rec.start(early.command, early.cwd, early.env)
            pending.start_ns = early.start_ns
            stored = rec.finish(pending, exit_status, duration)
        except Exception as exc:
            log.problem(f"could not record a command: {exc}")
            return
        self._notify(stored)

    def _notify(self, stored: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(stored)
            except Exception as exc:
                log.problem(f"after recording a command: {exc}")

    def recorder(self, timeout: float = READY_TIMEOUT_S) -> Any:
        """The recorder once it is built; None (reported once) when it could not be."""
        if self._closed:
            return None
        self._go.set()
        self._prompted.set()
        if self._thread is None and not self._ready.is_set() and self._config_env is not None:
            self._build(self._config_env)
        if not self._ready.wait(timeout):
            log.problem("still starting after 10 s; this command is not recorded")
            return None
        if self._error is not None:
            log.problem(self._error)
            return None
        return self._recorder

    @contextmanager
    def using_memory(self) -> Iterator[Any]:
        """Hold the memory (the fsync thread waits) and give its context, or None if not ready.

        The ``delta`` alias runs the command line in this process on the same open store;
        ``forget`` and ``prune`` swap LMDB files, which must not race the fsync thread.
        """
        rec = None
        if not self._closed and (self._ready.is_set() or self._early):
            # a start still storing earlier commands is waited for: `delta` sees them
            rec = self.recorder()
        if rec is None:
            yield None
            return
        with rec._lock:
            yield rec.ctx

    # --- event handlers ---------------------------------------------------------------
    def on_pre_prompt(self, **_: Any) -> None:
        """The first prompt is about to be drawn: the background start may begin soon."""
        self._prompted.set()

    def on_precommand(self, cmd: str, **_: Any) -> None:
        """Note the command as typed (xonsh appends a newline) and the cwd it starts in."""
        self._pending = None
        try:
            if self._thread is not None and not self._ready.is_set() and not self._closed:
                # still starting: note it now and let the start record it (no waiting)
                self._go.set()
                self._pending = _Early(
                    cmd.removesuffix("\n"), self._cwd(), time.time_ns(), self.env.snapshot()
                )
                return
            rec = self.recorder()
            if rec is None:
                return
            self._pending = rec.start(cmd.removesuffix("\n"), self._cwd(), self.env)
        except Exception as exc:
            log.problem(f"could not note a command: {exc}", fault="memory")

    def on_postcommand(self, rtn: Any = None, ts: Any = None, **_: Any) -> None:
        """Store the finished command before the next prompt draws (this call is synchronous)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            exit_status = rtn if isinstance(rtn, int) and not isinstance(rtn, bool) else None
            duration = None
            if ts and len(ts) == 2 and ts[0] is not None and ts[1] is not None:
                duration = max(0.0, float(ts[1]) - float(ts[0]))
            if isinstance(pending, _Early):
                with self._lock:
                    if not self._ready.is_set():
                        # still starting: the start stores it; the next prompt draws now
                        self._early.append((pending, exit_status, duration))
                        self._prompted.set()
                        self._go.set()
                        return
                self._record_early(self.recorder(), pending, exit_status, duration)
                return
            rec = self.recorder(0)
            if rec is None:
                return
            stored = rec.finish(pending, exit_status, duration)
        except Exception as exc:
            log.problem(f"could not record a command: {exc}", fault="memory")
            return
        self._notify(stored)

    def _cwd(self) -> str:
        if self._get_cwd is not None:
            try:
                return self._get_cwd()
            except Exception:
                pass
        return str(self.env.get("PWD", ""))

    # --- shutdown ---------------------------------------------------------------------
    def close(self, timeout: float = 5.0) -> None:
        """Flush and close the memory and stop the threads; safe to call twice."""
        if self._closed:
            return
        with self._lock:
            # only commands noted while starting are waited for (the start stores them):
            # a start not begun and holding none builds nothing, one under way closes
            # what it built
            self._closed = True
            wait = self._ready.is_set() or bool(self._early)
        self._go.set()
        self._prompted.set()
        if self._thread is not None and wait:
            self._thread.join(timeout)
        rec, self._recorder = self._recorder, None
        if rec is not None:
            try:
                rec.close()
            except Exception as exc:
                log.problem(f"closing the memory failed: {exc}", fault="memory")


def _prepare_store(rec: Any) -> None:
    """Open today's shard and the index ahead of the first command, when that is possible.

    A failure here is left for the first command to report, so that it is said once.
    """
    try:
        with rec._lock:
            store = rec.ctx.store
            _ = store.index
            # Only an existing shard: an empty one for a day with no command would be noise.
            store.shard(time.strftime("%Y-%m-%d"), create=False)
    except Exception:
        pass
