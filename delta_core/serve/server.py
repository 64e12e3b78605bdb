"""``delta serve``: one daemon per user and Delta root that holds the served model for every
shell (protocol: :mod:`delta_core.serve.protocol`).

An asyncio loop owns the sockets: it reads frames, checks them and hands suggest requests
to the :class:`~delta_core.serve.scheduler.Scheduler` thread, which owns the model; answers
come back through ``call_soon_threadsafe``. A client that sends garbage, a frame over the
limit or disconnects mid-request loses its own connection and requests, nobody else's.

Nobody can hold it: a frame once begun must arrive within ``serve.read_timeout_s`` (a TCP
client's token too), a connection silent for ``serve.idle_timeout_s`` is closed (a shell
reconnects), the Unix socket holds at most ``serve.max_clients`` connections and TCP a
quarter of that, counted apart (idle TCP connections without the token cannot starve the
shells), and both stay below the process's file limit. Requests are bounded in size
(:data:`~delta_core.serve.protocol.MAX_PREFIX`), so one cannot hold the model for the
others. Errors of the event loop go to the log once a minute per kind, not as tracebacks.

The ``active`` pointer is polled once a second; a promoted model loads in a thread and
takes the requests that arrive after it is ready (no request is dropped). SIGTERM, SIGINT
or ``{"op": "stop"}`` shut down gracefully. A lock file keeps it to one server per root.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hmac
import os
import signal
import threading
import time
from typing import Any

from delta_core import log
from delta_core.paths import Layout, private_dir, write_private
from delta_core.serve.launch import pid_file
from delta_core.serve.protocol import (
    HEADER,
    MAX_COMMAND,
    MAX_CWD,
    MAX_HISTORY,
    MAX_PREFIX,
    ProtocolError,
    check_length,
    decode_body,
    encode,
    socket_path,
)
from delta_core.serve.scheduler import Request, Scheduler
from delta_core.serve.search_side import SearchSide
from delta_core.tokenizer.format import Turn

POLL_S = 1.0
DEFAULT_TIMEOUT_MS = 1000
LOCK = "serve.lock"
#: File descriptors kept free of connections (the model, LMDB, the log, the listeners).
SPARE_FDS = 64


def _raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard one; return the soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        want = 65536 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
    return soft


class ServeError(RuntimeError):
    """The server cannot start; the message is one line a user can act on."""


def load_completer(
    layout: Layout, plugins: dict[str, Any], backend: str, threads: int = 0, speculate: bool = True
):
    """The active model's completer, or ``(None, None)`` when no model is promoted."""
    from delta_core.inference.backends import load_backend
    from delta_core.learn.deploy import active_version
    from delta_core.suggest.completer import ModelCompleter, load_tokenizer_dir

    version = active_version(layout)
    if not version:
        return None, None
    model_dir = layout.models / version
    tok = load_tokenizer_dir(model_dir / "tokenizer", plugins)
    completer = ModelCompleter(
        load_backend(model_dir, backend, threads=threads), tok, speculate=speculate
    )
    completer.complete([], "", "")  # warm up: the first forward is the slow one
    return completer, version


def _turns(raw: Any) -> list[Turn]:
    if not isinstance(raw, list):
        raise ProtocolError("history must be a list")
    out = []
    for item in raw[-MAX_HISTORY:]:
        if isinstance(item, str):
            turn = Turn(item)
        elif isinstance(item, list) and item and isinstance(item[0], str):
            cwd = item[1] if len(item) > 1 and isinstance(item[1], str) else ""
            ex = item[2] if len(item) > 2 and isinstance(item[2], int) else None
            turn = Turn(item[0], cwd if len(cwd) <= MAX_CWD else "", ex)
        else:
            raise ProtocolError("history items are [command, cwd, exit]")
        if len(turn.command) <= MAX_COMMAND:  # a longer one would not fit the window anyway
            out.append(turn)
    return out


class Server:
    def __init__(
        self,
        ctx: Any,
        backend: str = "onnx",
        listen: str = "",
        batching: bool = True,
        threads: int = 0,
        speculate: bool = True,
    ) -> None:
        self.ctx = ctx
        self.layout: Layout = ctx.layout
        self.backend_kind = backend
        self.threads = threads
        self.speculate = speculate
        self.token = ctx.config["serve.token"]
        self.listen = listen
        if listen and not self.token:
            raise ServeError(
                "--listen needs serve.token in the config (`delta config set serve.token ...`)"
            )
        self.path = socket_path(self.layout)
        self.clients = 0
        self.read_timeout = max(0.1, float(ctx.config["serve.read_timeout_s"]))
        self.idle_timeout = max(self.read_timeout, float(ctx.config["serve.idle_timeout_s"]))
        self.max_unix = max(1, int(ctx.config["serve.max_clients"]))
        self.max_tcp = max(1, self.max_unix // 4)
        self.open = {"unix": 0, "tcp": 0}
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused = 0  # connections closed at once: over the cap
        self.started = time.time()
        self.batching = batching
        self.scheduler: Scheduler | None = None
        self._stop: asyncio.Event | None = None
        self._lock_fd: int | None = None
        self.idle_exit = float(ctx.config["serve.idle_exit_s"])
        self.last_request = time.monotonic()
        self.search = SearchSide(ctx)  # `delta search` and the search window, kept warm

    # --- lifetime ---------------------------------------------------------------------
    def _take_lock(self) -> None:
        private_dir(self.layout.root)
        fd = os.open(self.layout.root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServeError(f"a delta server already runs for {self.layout.root}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _load(self) -> None:
        plugins = self.ctx.components.tokenizers
        completer, version = load_completer(
            self.layout, plugins, self.backend_kind, self.threads, self.speculate
        )
        if completer is None:
            if self.search.available():  # search alone until a model is promoted
                self.backend_name = None
                self._warm_search()
                return
            raise ServeError("no model is promoted yet; train one with `delta-train`")
        self.backend_name = completer.engine.backend.name
        self.scheduler = Scheduler(completer, version, batching=self.batching).start()
        if self.search.available():
            self._warm_search()

    def _watch(self) -> None:
        """Load a newly promoted model (in this thread) and swap it in."""
        from delta_core.learn.deploy import active_stamp, active_version

        stamp = active_stamp(self.layout)
        while not self._stop_flag:
            time.sleep(POLL_S)
            idle = time.monotonic() - self.last_request
            if not self.path.exists() or (self.idle_exit and idle > self.idle_exit):
                # socket removed (its root deleted) or nobody asked for a long time: go away
                self._loop.call_soon_threadsafe(self._stop.set)
                return
            now = active_stamp(self.layout)
            if now == stamp:
                continue
            stamp = now
            version = active_version(self.layout)
            if not version:
                if self.scheduler is None:
                    continue  # a server that only searches had no model to lose
                # no model is served any more (`delta model use none`): go away
                self._loop.call_soon_threadsafe(self._stop.set)
                return
            if self.scheduler is not None and version == self.scheduler.version:
                continue
            try:
                completer, version = load_completer(
                    self.layout,
                    self.ctx.components.tokenizers,
                    self.backend_kind,
                    self.threads,
                    self.speculate,
                )
                if completer is None:
                    continue
                if self.scheduler is None:  # the first model, in a server that only searched
                    self.backend_name = completer.engine.backend.name
                    self.scheduler = Scheduler(completer, version, batching=self.batching).start()
                else:
                    self.scheduler.swap(completer, version)
            except Exception as exc:
                log.problem(
                    f"delta serve: cannot load model {version}: {exc}", self.layout.log_file
                )

    def _warm_search(self) -> None:
        """Load the embedder and index in the background (joined before the process exits:
        ONNX Runtime aborts the process when it is torn down mid-initialisation)."""
        self._search_warming = threading.Thread(
            target=self.search.warm, name="delta-search-warm", daemon=True
        )
        self._search_warming.start()

    def run(self) -> None:
        """Serve until stopped (blocking)."""
        self._take_lock()
        self._stop_flag = False
        self._load()
        try:
            asyncio.run(self._main())
        finally:
            self._stop_flag = True
            if self.scheduler is not None:
                self.scheduler.stop()
            warming = getattr(self, "_search_warming", None)
            if warming is not None:
                warming.join(60)
            for p in (self.path,):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            if self._lock_fd is not None:
                os.close(self._lock_fd)

    def _fit_file_limit(self) -> None:
        """Keep both caps below the file limit, so accepting never fails with EMFILE."""
        room = max(2, _raise_file_limit() - SPARE_FDS)
        if self.max_unix + self.max_tcp > room:
            self.max_tcp = max(1, min(self.max_tcp, room // 5))
            self.max_unix = max(1, room - self.max_tcp)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own errors (a failed accept, a broken transport): one rate-limited line."""
        exc = context.get("exception")
        detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        log.problem(
            f"delta serve: {context.get('message', 'event loop error')}{detail}",
            self.layout.log_file,
        )

    async def _main(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_error)
        self._fit_file_limit()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):  # not the main thread (tests)
                loop.add_signal_handler(sig, self._stop.set)
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        if self.path.parent == self.layout.root:
            private_dir(self.layout.root)
        old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            unix = await asyncio.start_unix_server(self._client, path=str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        servers = [unix]
        if self.listen:
            host, _, port = self.listen.rpartition(":")
            servers.append(
                await asyncio.start_server(self._tcp_client, host or "127.0.0.1", int(port))
            )
        threading.Thread(target=self._watch, name="delta-watch", daemon=True).start()
        write_private(pid_file(self.layout), f"{os.getpid()}\n")
        await self._stop.wait()
        for s in servers:
            s.close()
        for w in list(self._writers):  # their reads end now, whatever they wait for
            w.close()
        with contextlib.suppress(FileNotFoundError):
            pid_file(self.layout).unlink()

    # --- connections ------------------------------------------------------------------
    async def _tcp_client(self, reader, writer) -> None:
        await self._client(reader, writer, tcp=True)

    async def _frame(self, reader: asyncio.StreamReader, wait: float) -> dict[str, Any]:
        """The next frame: its first byte within ``wait``, the rest within the read timeout."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that comes
        # as its awaitable finishes, and the server then never stops
        async with asyncio.timeout(wait) as deadline:  # one timer per frame (~5 us)
            first = await reader.readexactly(1)
            deadline.reschedule(asyncio.get_running_loop().time() + self.read_timeout)
            (n,) = HEADER.unpack(first + await reader.readexactly(HEADER.size - 1))
            body = await reader.readexactly(check_length(n))
        return decode_body(body)

    async def _client(self, reader, writer, tcp: bool = False) -> None:
        kind = "tcp" if tcp else "unix"
        if self.open[kind] >= (self.max_tcp if tcp else self.max_unix):
            self.refused += 1  # closed before reading anything: costs no memory, no time
            with contextlib.suppress(Exception):
                writer.write(encode({"ok": False, "error": "too many connections"}))
                writer.close()
            return
        loop = asyncio.get_running_loop()
        self.open[kind] += 1
        self.clients += 1
        self._writers.add(writer)
        mine: list[Request] = []
        authed = not tcp

        def send(msg: dict[str, Any]) -> None:
            if not writer.is_closing():
                writer.write(encode(msg))

        def reply_from_thread(msg: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(send, msg)

        try:
            while True:
                try:
                    # before the token a TCP client gets the short timeout, not the idle one
                    wait = self.idle_timeout if authed else self.read_timeout
                    msg = await self._frame(reader, wait)
                except ProtocolError as exc:
                    send({"ok": False, "error": str(exc)})
                    break
                except TimeoutError:
                    break  # silent too long, or a frame begun and never finished
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                    break  # gone, or the server is shutting down
                op, rid = msg.get("op"), msg.get("id")
                if not authed:
                    token = msg.get("token")
                    if (
                        op == "hello"
                        and isinstance(token, str)
                        and hmac.compare_digest(token.encode(), self.token.encode())
                    ):
                        authed = True
                        send({"id": rid, "ok": True})
                        continue
                    send({"id": rid, "ok": False, "error": "a valid token is needed first"})
                    break
                self.last_request = time.monotonic()
                if op == "suggest" and self.scheduler is None:
                    send({"id": rid, "ok": False, "error": "no model is promoted yet"})
                elif op == "suggest":
                    try:
                        req = self._request(msg, mine)
                    except (ProtocolError, TypeError, ValueError) as exc:
                        send({"id": rid, "ok": False, "error": f"bad request: {exc}"})
                        continue
                    req.reply = lambda m, rid=rid: reply_from_thread({"id": rid, **m})
                    mine[:] = [*[r for r in mine if not r.job or not r.job.done][-8:], req]
                    self.scheduler.submit(req)
                elif op == "search":
                    answer = await loop.run_in_executor(None, self.search.handle, msg)
                    send({"id": rid, **answer})
                elif op == "status":
                    send({"id": rid, "ok": True, **self.status()})
                elif op == "hello":
                    send({"id": rid, "ok": True})
                elif op == "stop" and not tcp:
                    send({"id": rid, "ok": True})
                    self._stop.set()
                else:
                    send({"id": rid, "ok": False, "error": f"unknown op {op!r}"})
                try:
                    if writer.transport.get_write_buffer_size():  # a client not reading
                        async with asyncio.timeout(self.idle_timeout):
                            await writer.drain()
                    else:
                        await writer.drain()  # nothing waits: no timer on the common path
                except (TimeoutError, ConnectionError, asyncio.CancelledError):
                    break  # gone, or not reading its answers
        finally:
            self._writers.discard(writer)
            self.open[kind] -= 1
            self.clients -= 1
            for req in mine:
                req.cancelled = True  # the client is gone: free its rows in the batch
            writer.close()

    def _request(self, msg: dict[str, Any], mine: list[Request]) -> Request:
        prefix, cwd = msg.get("prefix", ""), msg.get("cwd", "")
        session = msg.get("session", "")
        if not all(isinstance(x, str) for x in (prefix, cwd, session)):
            raise ProtocolError("prefix, cwd and session are strings")
        if len(session) > 200:
            raise ProtocolError("session is over 200 characters")
        if "\n" in prefix:
            raise ProtocolError("prefix is one line")
        if len(prefix) > MAX_PREFIX:
            raise ProtocolError(
                f"prefix of {len(prefix)} characters is over the {MAX_PREFIX}-character limit"
            )
        if len(cwd) > MAX_CWD:
            raise ProtocolError(f"cwd of {len(cwd)} characters is over {MAX_CWD}")
        k = int(msg.get("k", 1))
        timeout = float(msg.get("timeout_ms", DEFAULT_TIMEOUT_MS)) / 1000
        raw_drafts = msg.get("drafts", [])
        if not isinstance(raw_drafts, list):
            raise ProtocolError("drafts must be a list")
        drafts = [d for d in raw_drafts[:8] if isinstance(d, str) and len(d) <= MAX_COMMAND]
        return Request(
            session=session or f"conn-{id(mine)}",
            prefix=prefix,
            cwd=cwd,
            history=_turns(msg.get("history", [])),
            reply=lambda m: None,
            k=max(1, min(k, 8)),
            drafts=drafts,
            deadline=time.monotonic() + max(0.001, min(timeout, 30.0)),
        )

    def status(self) -> dict[str, Any]:
        return {
            **(self.scheduler.snapshot() if self.scheduler is not None else {"model": None}),
            "searches": self.search.served,
            "backend": self.backend_name,
            "clients": self.clients,
            "refused": self.refused,
            "pid": os.getpid(),
            "socket": str(self.path),
            "listen": self.listen or None,
            "uptime_s": round(time.time() - self.started, 1),
        }
