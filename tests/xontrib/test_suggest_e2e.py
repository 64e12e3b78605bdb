"""End to end: a real xonsh (prompt_toolkit) shows a model's completion as ghost text.

A tiny model is trained for real (sentencepiece tokenizer, torch training loop) on a history
where ``make build-zeta`` always follows ``cd proj``, registered and promoted. The history
suggester is switched off (``DELTA_DISABLE_PLUGINS``) and xonsh's own history is empty, so
ghost text can only come from the model.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pexpect
import pytest
from xonsh_pty import PROMPT, Xonsh, clean_env, write_rc

from delta_core.learn.deploy import promote
from delta_core.learn.eval.model import train_eval_model
from delta_core.learn.registry import register_model
from delta_core.memory.store import Store
from delta_core.paths import Layout
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.records.record import Record

pytest.importorskip("torch")


def _promoted_model(root: Path, work: Path) -> str:
    cycle = ["cd proj", "make build-zeta", "git status", "ls -la"]
    train = [Record(cycle[i % 4], (i + 1) * 60_000_000_000) for i in range(400)]
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    out = train_eval_model(train, work, plugins, max_steps=120, block_size=32, vocab_size=400)
    info = register_model(Layout(root), out, trainer="test", tokenizer_dir=out / "tokenizer")
    promote(Layout(root), info.version)
    return info.version


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("model")
    _promoted_model(base / "delta", base / "train")
    return base / "delta"


def _shell(tmp_path: Path, model_root: Path, extra: str = "") -> Xonsh:
    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    env = clean_env(tmp_path, root, DELTA_DISABLE_PLUGINS="suggest_history")
    extra = "$XONSH_PROMPT_AUTO_SUGGEST = True\n" + extra
    sh = Xonsh(
        write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit", extra=extra), env, tmp_path
    )
    sh.warm_up(6)  # the recorder starts after the first prompt, then the model loads
    return sh


def test_model_completion_shows_as_ghost_text(tmp_path: Path, model_root: Path) -> None:
    sh = _shell(tmp_path, model_root)
    assert sh.ghost("mak", "e build-zeta", 20)
    sh.child.send("\x05\r")  # Ctrl-E accepts the ghost text, Enter runs it
    sh.child.expect_exact("make")  # make runs (and fails: no makefile) — it was accepted
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
    assert sh.delta_lines() == []


def test_delta_suggest_off_shows_nothing_from_delta(tmp_path: Path, model_root: Path) -> None:
    sh = _shell(tmp_path, model_root, "$DELTA_SUGGEST = False\n")
    assert not sh.ghost("mak", "e build-zeta", 4)
    sh.child.send("\x15")  # Ctrl-U clears the line
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)


def _history_shell(tmp_path: Path, commands: list[str]) -> Xonsh:
    """A prompt_toolkit xonsh whose memory holds ``commands`` (a minute apart), no model."""
    env = clean_env(tmp_path)
    with Store(Path(env["DELTA_HOME"])) as store:
        store.add_many([Record(c, (i + 1) * 60_000_000_000) for i, c in enumerate(commands)])
    extra = "$XONSH_PROMPT_AUTO_SUGGEST = True\n"
    rc = write_rc(tmp_path / "rc.xsh", shell_type="prompt_toolkit", extra=extra)
    sh = Xonsh(rc, env, tmp_path)
    sh.warm_up(4)
    return sh


def test_the_next_command_appears_on_the_empty_prompt(tmp_path: Path) -> None:
    # The prediction is made beside the prompt, which is drawn first: it must still appear,
    # with no key pressed. History alone predicts it here (what follows ``cd proj``).
    (tmp_path / "proj").mkdir()
    sh = _history_shell(tmp_path, ["cd proj", "make build-zeta", "git status", "ls -la"] * 10)
    sh.child.sendline("cd proj")
    sh.child.expect_exact(PROMPT)
    sh.child.expect_exact("make build-zeta", timeout=20)
    sh.child.send("\x05\r")  # Ctrl-E takes it, Enter runs it
    sh.child.expect_exact("make")
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
    assert sh.delta_lines() == []


def test_a_file_named_a_moment_ago_completes_a_command_never_run(tmp_path: Path) -> None:
    # history only knows ``git add -A``; the file just written was never added: the ghost
    # text copies it from the session's last commands
    sh = _history_shell(tmp_path, ["git add -A"] * 5)
    sh.child.sendline("cp /dev/null report-2026.txt")
    sh.child.expect_exact(PROMPT)
    assert sh.ghost("git add r", "eport-2026.txt", 20)
    sh.child.send("\x15")  # Ctrl-U clears the line
    sh.child.sendline("exit")
    sh.child.expect(pexpect.EOF)
    assert sh.delta_lines() == []


class _RecordingPeer:
    """The server's end of ``delta serve``'s socket, recording every request it receives.

    What this test checks is what crosses the wire, so the peer speaks the real protocol
    (4-byte length, JSON; :mod:`delta_core.serve.protocol`) and keeps the raw bytes; a real
    server would not let a test read what it was sent. It answers every request with no
    suggestion, so the shell falls back to history.
    """

    def __init__(self, path: Path) -> None:
        import socket
        import threading

        self.raw = bytearray()
        self.requests: list[dict] = []
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        path.chmod(0o600)
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        import json
        import struct

        from delta_core.serve.protocol import encode

        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.raw += data
            buf += data
            while len(buf) >= 4:
                (n,) = struct.unpack(">I", buf[:4])
                if len(buf) < 4 + n:
                    break
                msg, buf = json.loads(buf[4 : 4 + n]), buf[4 + n :]
                self.requests.append(msg)
                reply = {"id": msg.get("id"), "ok": True, "suggestions": [], "model": "peer"}
                if msg.get("op") == "status":
                    reply.update(model="peer", backend="none")
                conn.sendall(encode(reply))

    def close(self) -> None:
        self.sock.close()


def test_the_model_context_sent_to_the_server_carries_only_the_redacted_command(
    tmp_path: Path, model_root: Path
) -> None:
    """A secret typed in the shell is redacted before it is stored, and the model's context
    (the request to ``delta serve``) is the stored record: the token never crosses the wire."""
    from delta_core.serve.protocol import socket_path
    from tests.plugins.secret_examples import GH_PAT as token

    root = tmp_path / "delta"
    shutil.copytree(model_root, root)
    env = clean_env(tmp_path, root, DELTA_SERVE_TIMEOUT_MS="2000")
    peer = _RecordingPeer(socket_path(Layout(root), env))
    try:
        rc = write_rc(
            tmp_path / "rc.xsh",
            shell_type="prompt_toolkit",
            extra="$XONSH_PROMPT_AUTO_SUGGEST = True\n",
        )
        sh = Xonsh(rc, env, tmp_path)
        sh.warm_up(6)  # the recorder and the suggestion engine start after the first prompt
        sh.child.sendline(f"echo {token} > /dev/null && echo typed-the-secret")
        sh.child.expect_exact("typed-the-secret\r\n")
        time.sleep(1)
        for ch in "mak":
            sh.child.send(ch)
            time.sleep(0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            "typed-the-secret" in json.dumps(r.get("history")) for r in peer.requests
        ):
            time.sleep(0.2)
        sh.child.send("\x15")
        sh.child.sendline("exit")
        sh.child.expect(pexpect.EOF)
    finally:
        peer.close()
    asked = [r for r in peer.requests if r.get("op") == "suggest"]
    with_it = [r for r in asked if "typed-the-secret" in json.dumps(r["history"])]
    assert with_it, f"the shell never sent the command as context: {peer.requests[:3]}"
    sent = [h[0] for h in with_it[-1]["history"] if "typed-the-secret" in h[0]]
    assert sent and "<redacted:" in sent[-1]
    assert token.encode() not in bytes(peer.raw)
    assert token[4:20].encode() not in bytes(peer.raw)
