"""Real histories hold odd commands: longer than the model's block (a pasted key), several
lines, control bytes and undecodable bytes (kept as lone surrogates), and 1 MB. Nothing in
extraction, tokenizer and model training, the weight fit, scoring, ``delta eval``, the
promotion gate, suggestion or serving may fail on them. The corpus is generated here."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from delta_core.records.record import Record
from delta_core.tokenizer.format import CONTEXT_CHARS, Turn, split_typed
from tests.conftest import make_record, wait_for

torch = pytest.importorskip("torch")

NORMAL = ["git status", "ls -la", "cd src", "make test", "git diff", "vim main.py", "git log -3"]
MEGABYTE = 1 << 20


def odd_commands(seed: int = 0, big: int = MEGABYTE) -> list[str]:
    """One of each kind: over the block, multi-line, binary, and ``big`` characters."""
    rng = random.Random(seed)
    key = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/") for _ in range(3000))
    return [
        f"echo '{key}' > ~/.ssh/id_test",
        'for f in *.txt; do\n  wc -l "$f"\ndone',
        "printf '\x00\x01\x1b[31m\udcff\udc80 caf\xe9\x7f'",
        "echo " + "A" * big,
    ]


def odd_history(n: int = 240) -> list[Record]:
    """Ordinary commands with the odd ones among them (each at least once in either part)."""
    odd = odd_commands()
    cmds = []
    for i in range(n):
        cmds.append(NORMAL[i % len(NORMAL)])
        if i % 29 == 0:
            cmds.append(odd[(i // 29) % len(odd)])
    cmds.insert(int(len(cmds) * 0.9), odd[3])  # the 1 MB one in the test part as well
    return [make_record(i, c, exit=0) for i, c in enumerate(cmds)]


def test_split_typed_keeps_the_text_and_cuts_at_a_word():
    assert split_typed("git status") == ("", "git status")
    typed = "echo " + "x" * 10 + " " + "y" * CONTEXT_CHARS
    head, tail = split_typed(typed)
    assert head + tail == typed and len(tail) <= CONTEXT_CHARS + 1
    head, tail = split_typed("z" * (3 * CONTEXT_CHARS))  # no space: cut anyway
    assert len(tail) == CONTEXT_CHARS


def test_the_engine_scores_a_target_longer_than_the_block():
    from delta_core.inference.backends import TorchBackend
    from delta_core.inference.engine import Engine
    from delta_core.lm.config import GPTConfig
    from delta_core.lm.gpt import GPT

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, n_layer=1, n_head=2, n_embd=16, block_size=16))
    engine = Engine(TorchBackend(model, "cpu"))
    rng = random.Random(1)
    prompt = [rng.randrange(50) for _ in range(10)]
    for length in (1, 15, 16, 17, 100):  # up to the block, at it, past it (the crash)
        target = [rng.randrange(50) for _ in range(length)]
        got = engine.score(prompt, target)
        assert math.isfinite(got) and got < 0
        assert engine.score(prompt, target) == pytest.approx(got)  # the cache reused right
    # in windows, each token is scored once: a longer target costs more log-probability
    long = [rng.randrange(50) for _ in range(200)]
    assert engine.score(prompt, long) < engine.score(prompt, long[:100])


@pytest.mark.slow
def test_a_history_of_odd_commands_trains_evaluates_and_suggests(tmp_path):
    from delta_core.learn.eval.model import train_eval_model
    from delta_core.learn.eval.protocol import evaluate
    from delta_core.learn.extraction import extract_sessions
    from delta_core.plugin.manager import Components, make_plugin_manager
    from delta_core.suggest.completer import ModelCompleter

    torch.set_num_threads(1)
    recs = odd_history()
    _sessions, report = extract_sessions(recs, [])
    assert report.kept == len(recs) - report.collapsed
    cut = int(len(recs) * 0.8)
    train, test = recs[:cut], recs[cut:]
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    # tokenizer, dataset, training and the weight fit (which scores the held-out tenth)
    model_dir = train_eval_model(train, tmp_path, plugins, max_steps=10)
    completer = ModelCompleter.from_dir(model_dir, plugins)
    result = evaluate(train, test, completer, others={"no_model": None})
    assert result["commands"] == len(test)
    assert math.isfinite(result["strategies"]["delta"]["perplexity"])
    for row in result["strategies"].values():
        assert 0.0 <= row["keystroke_savings"] <= 1.0
    turns = [Turn(r.command) for r in recs]
    for typed in (*odd_commands(), "echo " + "A" * 5000, "git st"):
        got = completer.complete(turns, "/src", typed[: max(1, len(typed) - 3)])
        assert got is None or got[0].startswith(typed[: max(1, len(typed) - 3)])


def test_delta_eval_on_a_file_of_odd_commands(tmp_path, delta_home):
    import json

    recs = odd_history(120)
    for name, part in (("train", recs[:100]), ("test", recs[100:])):
        lines = [json.dumps({"command": r.command, "start_ns": r.start_ns}) for r in part]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = ["--train", str(tmp_path / "train.jsonl"), "--test", str(tmp_path / "test.jsonl")]
    cli = [sys.executable, "-c", "from delta_core.cli import main; main()", "eval"]
    out = subprocess.run(
        [*cli, *files, "--json", "--no-model"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["commands"] > 0


@pytest.mark.slow
def test_the_gate_and_the_server_take_odd_commands(delta_home, tmp_path):
    from delta_core.context import DeltaContext
    from delta_core.learn.promotion import evaluate_candidate
    from delta_core.paths import Layout
    from delta_core.serve.protocol import Client, socket_path
    from delta_core.serve.remote import RemoteModel
    from tests.core.serve_helpers import promoted_model

    version = promoted_model(delta_home, tmp_path / "m")
    ctx = DeltaContext()
    try:
        ctx.store.add_many(odd_history(60))
        _ok, reason, result = evaluate_candidate(ctx, version)  # judged, whatever the verdict
        assert result["commands"] > 0 and reason
    finally:
        ctx.close()
    env = {k: v for k, v in __import__("os").environ.items() if k != "XDG_RUNTIME_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "delta_core.serve"], env=env)
    path = socket_path(Layout(delta_home), env={})
    try:
        assert wait_for(lambda: path.exists() or proc.poll() is not None, 60)
        remote = RemoteModel(Layout(delta_home), timeout_ms=30_000, auto_start=False)
        history = [Turn(c, "/src", 0) for c in odd_commands()] * 20  # 1 MB turns, 20 of them
        for typed in (*odd_commands(), "git s"):
            got = remote.suggest(history, "/src", typed)
            assert got is not None, typed[:40]  # answered: no frame over the limit
            assert all(c.startswith(typed) for c, _ in got)
            if "\n" in typed:
                assert got == []  # one-line completions only: not even asked
        Client(path, timeout=30).call({"op": "stop"}, 30)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_a_history_of_nothing_but_blobs_gets_a_tokenizer(tmp_path):
    # a real dev history held only 80-character base64 lines: every unit was too long to
    # train on, and tokenizer training (hence delta eval) failed with "the history is empty"
    from delta_core.plugin.manager import Components, make_plugin_manager
    from delta_core.suggest.completer import load_tokenizer_dir
    from delta_core.tokenizer.pretokenizer import unit_counts
    from delta_core.tokenizer.versions import train_tokenizer

    rng = random.Random(2)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    blobs = ["".join(rng.choice(alphabet) for _ in range(80)) for _ in range(300)]
    assert unit_counts(blobs) and unit_counts(["git status"]) == unit_counts(["git status"])
    assert " git" in unit_counts(["git status", blobs[0]])  # blobs stay out when words exist
    assert not any(len(u) > 20 for u in unit_counts(["git status", blobs[0]]))
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    info = train_tokenizer(blobs, plugins["sentencepiece"], root=tmp_path, vocab_size=400)
    tok = load_tokenizer_dir(info.directory, plugins)
    assert tok.decode(tok.encode(blobs[5])) == blobs[5]
