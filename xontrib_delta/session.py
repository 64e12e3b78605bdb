"""One xonsh session's recording: the event handlers around :class:`delta_core.session.recorder.Recorder`.

Start-up cost is kept off the shell's start: this module imports only the standard library and
:mod:`delta_core.log`. The recorder (config, plugins, LMDB) is built by a background thread
started at load, which normally finishes while the user reads the first prompt; the first
command waits for it if it has not. Nothing here raises into the shell: every failure becomes
one line (``delta: …``, printed once per distinct message) and the command still runs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
        #: Called after each finished command with the record stored (None: nothing stored).
        #: The one path of a shell event: suggestions, the model's context and the search
        #: indexer all learn of a command from here, as stored, never from the raw text.
        self.listeners: list[Callable[[Any], None]] = []

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
        self._build(config_env)

    def _build(self, config_env: dict[str, str]) -> None:
        try:
            from delta_core.context import DeltaContext
            from delta_core.session.recorder import Recorder

            ctx = DeltaContext(env=config_env)
            rec = Recorder(ctx, shell="xonsh", session=self.session)
            _ = rec.ctx.components  # load plugins now, not on the first command
            _prepare_store(rec)
            self._recorder = rec
        except Exception as exc:
            self._error = f"not recording this session: {exc}"
        finally:
            self._ready.set()

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
        rec = self._recorder if self._ready.is_set() and not self._closed else None
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
            rec = self.recorder(0)
            if rec is None:
                return
            exit_status = rtn if isinstance(rtn, int) and not isinstance(rtn, bool) else None
            duration = None
            if ts and len(ts) == 2 and ts[0] is not None and ts[1] is not None:
                duration = max(0.0, float(ts[1]) - float(ts[0]))
            stored = rec.finish(pending, exit_status, duration)
        except Exception as exc:
            log.problem(f"could not record a command: {exc}", fault="memory")
            return
        for listener in list(self.listeners):
            try:
                listener(stored)
            except Exception as exc:
                log.problem(f"after recording a command: {exc}")

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
        self._go.set()
        self._prompted.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._closed = True
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
