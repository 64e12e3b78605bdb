"""The wire protocol of ``delta serve``, its socket's place, and a small blocking client.

Transport: a Unix stream socket (mode 0600, in a 0700 directory): ``$XDG_RUNTIME_DIR/
delta-<root hash>.sock`` when that directory is the user's own and nobody else may write in
it, else ``<Delta root>/serve.sock``. For a team, TCP (``delta serve --listen HOST:PORT``),
only with ``serve.token`` set.

Trust: the client connects only to a socket that is a socket, owned by the user, closed to
group and others, in a folder of the user's that nobody else may write in, and served by a
process of the user (``SO_PEERCRED``); otherwise it raises :class:`UntrustedServer` and
sends nothing (another user listening first on the predictable name would otherwise read
the shell's last commands and answer with suggestions of their choosing).

Framing: every message, both ways, is a 4-byte big-endian length followed by that many bytes
of UTF-8 JSON holding one object. Frames over :data:`MAX_FRAME` bytes, or not JSON objects,
are refused: the server answers ``{"ok": false, "error": ...}`` and closes that connection
(no one else is affected). Requests (``op``):

``{"op": "hello", "token": "..."}``
    Required first on TCP: the ``serve.token`` secret. Answer ``{"ok": true}``.
``{"op": "suggest", "id": 7, "session": "shell-id", "prefix": "git co", "cwd": "/src",
"history": [["git status", "/src", 0], ...], "k": 1, "drafts": ["git commit -m x"],
"timeout_ms": 200}``
    Complete ``prefix`` given the session's previous commands (oldest first, at most
    :data:`MAX_HISTORY`; each ``[command, cwd, exit or null]``). A prefix over
    :data:`MAX_PREFIX` characters or a cwd over :data:`MAX_CWD` is refused; history commands
    and drafts over :data:`MAX_COMMAND` are left out (the model's window could not hold
    them, and one such request would hold the model for everyone). ``k`` > 1 asks for beam
    search. ``drafts``: history commands that may speed up speculative decoding. A new
    request of the same ``session`` cancels the previous one still running. Answer
    ``{"id": 7, "ok": true, "suggestions": [{"command": ..., "score": p}], "model": version,
    "ms": server time}``, or ``{"id": 7, "ok": false, "error": "cancelled" | "timeout" | ...}``.
``{"op": "status"}``
    ``{"ok": true, "model": ..., "backend": ..., "clients": n, "queue": n, "active": n,
    "served": n, "latency_ms": {"p50": .., "p95": .., "p99": ..}, ...}``.
``{"op": "stop"}``
    Graceful shutdown (Unix socket only): running requests finish, queued ones are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import time
from pathlib import Path
from typing import Any

from delta_core.paths import Layout

MAX_FRAME = 256 * 1024
MAX_HISTORY = 64
#: Characters of a typed prefix the server completes (far past the model's window).
MAX_PREFIX = 2000
#: Characters of one history command or draft sent along; longer ones are left out.
MAX_COMMAND = 2000
MAX_CWD = 4096
HEADER = struct.Struct(">I")
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class ProtocolError(ValueError):
    """A frame that is not a length-prefixed JSON object within the limits."""


class UntrustedServer(ConnectionRefusedError):
    """The socket, its folder or the process behind it is not the user's own."""


def encode(msg: dict[str, Any]) -> bytes:
    data = json.dumps(msg, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(len(data)) + data


def decode_body(body: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("frame is not UTF-8 JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("frame is not a JSON object")
    return msg


def check_length(n: int) -> int:
    if n > MAX_FRAME:
        raise ProtocolError(f"frame of {n} bytes is over the {MAX_FRAME}-byte limit")
    return n


def socket_path(layout: Layout, env: dict[str, str] | None = None) -> Path:
    """Where this Delta root's server listens (one server per user and root)."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and _private_folder(runtime) and os.access(runtime, os.W_OK):
        tag = hashlib.sha1(str(layout.root.resolve()).encode()).hexdigest()[:12]
        return Path(runtime) / f"delta-{tag}.sock"
    return layout.root / "serve.sock"


def _private_folder(path: str) -> bool:
    """A directory of this user's in which nobody else may create or replace files."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def check_socket(path: Path | str) -> None:
    """Raise :class:`UntrustedServer` unless ``path`` is this user's private socket."""
    path = str(path)
    st = os.lstat(path)  # FileNotFoundError when there is none
    me = os.geteuid()
    if not stat.S_ISSOCK(st.st_mode):
        raise UntrustedServer(f"{path} is not a socket; not using it")
    if st.st_uid != me:
        raise UntrustedServer(f"{path} belongs to uid {st.st_uid}, not you; not using it")
    if st.st_mode & 0o077:
        raise UntrustedServer(
            f"{path} is open to others (mode {stat.S_IMODE(st.st_mode):o}); not using it"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not _private_folder(folder):
        raise UntrustedServer(f"{folder} is not yours alone; not using the socket in it")


def check_peer(sock: socket.socket) -> None:
    """Raise :class:`UntrustedServer` unless the process behind ``sock`` runs as this user."""
    if not hasattr(socket, "SO_PEERCRED"):
        return  # not Linux: the socket's owner and folder were checked
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, _ = _PEERCRED.unpack(raw)
    if uid != os.geteuid():
        raise UntrustedServer(f"the delta server (pid {pid}) runs as uid {uid}, not you")


class Client:
    """A blocking connection to the server (the shell, ``delta suggest``, the benchmarks).

    ``address``: a Unix socket path, or ``(host, port)`` with ``token``.
    """

    def __init__(
        self, address: Path | str | tuple[str, int], timeout: float = 1.0, token: str = ""
    ):
        if isinstance(address, tuple):
            self.sock = socket.create_connection(address, timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            check_socket(address)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(str(address))
                check_peer(self.sock)
            except OSError:
                self.sock.close()
                raise
        self._next = 0
        self._buf = b""
        if token:
            got = self.call({"op": "hello", "token": token}, timeout)
            if not got.get("ok"):
                self.close()
                raise ConnectionRefusedError(got.get("error", "token refused"))

    def send(self, msg: dict[str, Any]) -> int:
        """Send a request; return its id."""
        self._next += 1
        msg = {**msg, "id": self._next}
        self.sock.sendall(encode(msg))
        return self._next

    def _fill(self, n: int, deadline: float) -> None:
        """Buffer at least ``n`` bytes (a timeout leaves the partial frame for next time)."""
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the delta server in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("no answer from the delta server in time") from None
            if not chunk:
                raise ConnectionError("the delta server closed the connection")
            self._buf += chunk

    def receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        self._fill(HEADER.size, deadline)
        (n,) = HEADER.unpack(self._buf[: HEADER.size])
        self._fill(HEADER.size + check_length(n), deadline)
        body, self._buf = self._buf[HEADER.size : HEADER.size + n], self._buf[HEADER.size + n :]
        return decode_body(body)

    def wait(self, request_id: int, timeout: float) -> dict[str, Any]:
        """The answer to ``request_id`` (answers to older requests are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.receive(max(deadline - time.monotonic(), 0.0))
            if msg.get("id") in (request_id, None):
                return msg

    def call(self, msg: dict[str, Any], timeout: float = 1.0) -> dict[str, Any]:
        return self.wait(self.send(msg), timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
