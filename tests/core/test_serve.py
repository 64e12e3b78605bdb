"""``delta serve`` for real: a server process on a Unix socket with a promoted model, several
concurrent shells, and clients that misbehave (garbage, a huge frame, a half frame, a
disconnect mid-request) without anyone else noticing; cancellation, timeouts, the team
listener's token, a promotion while serving, a graceful stop."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from delta_core.paths import Layout
from delta_core.serve.protocol import HEADER, Client, encode, socket_path
from tests.conftest import wait_for
from tests.core.serve_helpers import HISTORY, promoted_model, server_env

DELTA = [sys.executable, "-c", "from delta_core.cli import main; main()"]


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("serve")
    promoted_model(base / "delta", base / "work")
    return base / "delta"


@pytest.fixture
def server(model_root, tmp_path):
    import shutil

    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "delta_core.serve"],
        env=server_env(root),
        stderr=subprocess.PIPE,
        text=True,
    )
    path = socket_path(Layout(root), env={})
    assert wait_for(lambda: path.exists() or proc.poll() is not None, 60), "server did not start"
    assert proc.poll() is None, proc.stderr.read()
    yield root, path, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)


def _suggest(client: Client, session: str, prefix: str, timeout_ms: int = 20000) -> dict:
    msg = {"op": "suggest", "session": session, "prefix": prefix, "cwd": "/src"}
    return client.call({**msg, "history": HISTORY, "timeout_ms": timeout_ms}, 30)


def test_concurrent_clients_all_answered_while_others_misbehave(server):
    _root, path, proc = server
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    answers: dict[int, list] = {}

    def good(n: int) -> None:
        c = Client(path, timeout=30)
        answers[n] = [_suggest(c, f"shell{n}", p) for p in ("g", "git ", "make", "ls -")]
        c.close()

    def garbage() -> None:
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(path))
        s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 50)
        s.recv(1000)
        s.close()

    def huge() -> None:
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(path))
        s.sendall(HEADER.pack(1 << 30) + b"{" * 1000)
        s.recv(1000)
        s.close()

    def not_json() -> None:
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(path))
        s.sendall(HEADER.pack(5) + b"\xff\xfe{]x")
        s.recv(1000)
        s.close()

    def half_frame_then_hang() -> None:
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(path))
        s.sendall(encode({"op": "suggest", "prefix": "git"})[:9])
        time.sleep(3)
        s.close()

    def disconnect_mid_request() -> None:
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(path))
            msg = {"op": "suggest", "session": "rude", "prefix": "git", "history": HISTORY * 10}
            s.sendall(encode(msg))
            s.close()

    def bad_fields() -> None:
        c = Client(path, timeout=30)
        got = c.call({"op": "suggest", "prefix": 5, "history": "nope"}, 30)
        assert not got["ok"] and "bad request" in got["error"]
        assert c.call({"op": "launch-missiles"}, 30)["ok"] is False
        c.close()

    threads = [threading.Thread(target=good, args=(n,)) for n in range(6)]
    threads += [
        threading.Thread(target=f)
        for f in (garbage, huge, not_json, half_frame_then_hang, disconnect_mid_request, bad_fields)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(answers) == list(range(6))
    for replies in answers.values():
        assert all(r["ok"] for r in replies), replies
        for r, prefix in zip(replies, ("g", "git ", "make", "ls -"), strict=True):
            assert all(s["command"].startswith(prefix) for s in r["suggestions"])
    c = Client(path, timeout=30)
    status = c.call({"op": "status"}, 30)
    assert status["served"] >= 24 and status["latency_ms"]["p95"] is not None
    assert status["model"] and status["backend"] == "onnx-int8"  # the default
    assert proc.poll() is None  # nobody took the server down
    assert c.call({"op": "stop"}, 30)["ok"]
    assert proc.wait(30) == 0
    assert not path.exists()


def test_cli_status_suggest_and_stop(server):
    root, _path, proc = server
    env = server_env(root)
    out = subprocess.run(
        [*DELTA, "serve", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"running": true' in out.stdout, out.stderr
    got = subprocess.run(
        [*DELTA, "suggest", "git ", "--json", "-k", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    assert '"model_via": "server"' in got.stdout
    stop = subprocess.run(
        [*DELTA, "serve", "stop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stop.returncode == 0 and proc.wait(30) == 0


def test_a_promoted_model_is_served_without_dropping_requests(server, tmp_path):
    root, path, _proc = server
    c = Client(path, timeout=30)
    first = _suggest(c, "s", "git ")
    new = promoted_model(root, tmp_path / "work2", seed=1)
    seen = set()
    deadline = time.monotonic() + 60
    while new not in seen and time.monotonic() < deadline:
        r = _suggest(c, "s", "git ")
        assert r["ok"], r  # nothing is dropped while the new model loads
        seen.add(r.get("model"))
    assert first["model"] != new and new in seen


def test_listen_needs_a_token(model_root, tmp_path):
    import shutil

    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    out = subprocess.run(
        [*DELTA, "serve", "--listen", "127.0.0.1:0"],
        env=server_env(root),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "serve.token" in out.stderr
    assert not socket_path(Layout(root), env={}).exists()


def test_team_listener_refuses_clients_without_the_token(model_root, tmp_path):
    import shutil

    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = server_env(root, DELTA_SERVE_TOKEN="s3cret")
    proc = subprocess.Popen(
        [sys.executable, "-m", "delta_core.serve", "--listen", f"127.0.0.1:{port}"], env=env
    )
    try:
        assert wait_for(lambda: socket_path(Layout(root), env={}).exists(), 60)
        anon = Client(("127.0.0.1", port), timeout=30)
        got = anon.call({"op": "suggest", "prefix": "git"}, 30)
        assert not got["ok"] and "token" in got["error"]
        with pytest.raises(ConnectionRefusedError):
            Client(("127.0.0.1", port), timeout=30, token="wrong")
        team = Client(("127.0.0.1", port), timeout=30, token="s3cret")
        assert _suggest(team, "t", "git ")["ok"]
        assert team.call({"op": "stop"}, 30)["ok"] is False  # only the owner's socket may stop it
    finally:
        proc.terminate()
        proc.wait(30)
