"""`delta tokenizer …` as a user runs it (in-process through click, on a real store)."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.memory.store import Store
from tests.conftest import make_record
from tests.tokenizer_helpers import sample_commands
from xontrib_delta.aliases import run_cli

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def run(*args, input=None):
    return CliRunner().invoke(build_cli(), ["tokenizer", *args], input=input)


@pytest.fixture
def memory(delta_home):
    cmds = sample_commands()
    recs = [
        make_record(i, c, session=f"s{i // 25}", cwd="/home/ada/src" if i % 3 else "/tmp")
        for i, c in enumerate(cmds)
    ]
    # stored raw, as if recorded before the secrets filter existed
    recs.append(make_record(len(cmds), f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}"))
    with Store(delta_home) as store:
        store.add_many(recs)
    return delta_home


def test_show_before_training_shows_the_units(delta_home):
    res = run("show", 'git commit -m "fix: x" && git push origin HEAD:main 2>&1 | tee log')
    assert res.exit_code == 0
    assert "no tokenizer trained yet" in res.output
    assert (
        'git│ commit│ -m│ "│fix:│ x│"│ &&│ git│ push│ origin│ HEAD:main│ 2>&1│ |│ tee│ log│'
        in res.output
    )


def test_train_encode_decode_show_stats(memory):
    res = run("train", "--vocab-size", "700", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["vocab_size"] == 700 and info["trained_on"]["commands"] == 512
    assert (memory / "tokenizer" / "active").read_text().strip() == info["version"]

    lines = ["ls -la", "", "grep -r 'é ▁' . | wc -l", "  two  spaces "]
    enc = run("encode", "-", input="\n".join(lines) + "\n")
    assert enc.exit_code == 0 and len(enc.output.splitlines()) == 4
    assert all(x.isdigit() for x in enc.output.split())
    dec = run("decode", "-", input=enc.output)
    assert dec.exit_code == 0 and dec.output.split("\n")[:-1] == lines

    one = run("encode", "git status")
    assert run("decode", *one.output.split()).output == "git status\n"

    shown = run(
        "show", "--json", 'git commit -m "fix: x" && git push origin HEAD:main 2>&1 | tee log'
    )
    texts = [t for _, t in json.loads(shown.output)["tokens"]]
    assert " &&" in texts and " 2>&1" in texts and " |" in texts
    assert "".join(texts) == 'git commit -m "fix: x" && git push origin HEAD:main 2>&1 | tee log'
    assert "tokens" in run("show", "ls -la").output

    stats = json.loads(run("stats", "--json").output)
    assert stats["vocab_size"] == 700 and stats["commands"] == 512
    assert stats["tokens_per_command"]["p50"] <= stats["tokens_per_command"]["p90"]
    assert 0 <= stats["byte_fallback_rate"] < 0.05
    assert len(stats["top_tokens"]) == 15
    assert "byte-fallback rate" in run("stats").output


def test_bad_ids_are_one_line_errors_and_lines_stay_aligned(memory):
    assert run("train", "--vocab-size", "700").exit_code == 0
    res = run("decode", "-", input="5 x 7\n999999\n")
    assert res.exit_code == 1
    assert res.output.count("\n") >= 2
    assert "'x' is not a token id (line 1)" in res.output
    assert "token id 999999 is outside the vocabulary" in res.output


def test_dataset_build_and_stats_keep_secrets_out(memory):
    assert run("train", "--vocab-size", "700").exit_code == 0
    res = run("dataset", "build", "--json")
    assert res.exit_code == 0, res.output
    meta = json.loads(res.output)
    assert meta["extraction"]["redacted"] + meta["extraction"]["dropped"] >= 1
    assert meta["splits"]["train"]["examples"] + meta["splits"]["val"]["examples"] >= 500
    from delta_core.tokenizer.versions import load_tokenizer

    tok = load_tokenizer(root=memory)
    for split in ("train", "val"):
        ids = np.fromfile(memory / "datasets" / "default" / f"{split}.bin", dtype=np.uint16)
        assert AWS_SECRET not in tok.decode(ids.tolist())
    stats = json.loads(run("dataset", "stats", "--json").output)
    assert stats["splits"]["train"]["tokens"] == meta["splits"]["train"]["tokens"]
    assert "tokens/command" in run("dataset", "stats").output


def test_a_dataset_is_not_rebuilt_with_another_tokenizer_silently(memory):
    assert run("train", "--vocab-size", "700").exit_code == 0
    assert run("dataset", "build").exit_code == 0
    assert run("train", "--vocab-size", "800").exit_code == 0
    res = run("dataset", "build")
    assert res.exit_code != 0 and "built with tokenizer sentencepiece-" in res.output
    assert run("dataset", "build", "--replace").exit_code == 0
    versions = json.loads(run("versions", "--json").output)
    assert len(versions) == 2 and sum(v["active"] for v in versions) == 1
    old = next(v["version"] for v in versions if not v["active"])
    assert run("use", old).exit_code == 0
    assert run("use", "nope").exit_code != 0


def test_training_on_an_empty_memory_is_a_one_line_error(delta_home):
    res = run("train")
    assert res.exit_code != 0 and "no commands to train on" in res.output
    assert "Traceback" not in res.output


def xonsh_alias(args, stdin=None, stdout=None, stderr=None):
    """What `:tokenizer ARGS` runs in xonsh."""
    return run_cli(
        ["tokenizer", *args], dict(os.environ), stdout=stdout, stderr=stderr, stdin=stdin
    )


def test_xonsh_alias_never_raises(memory, capsys):
    assert xonsh_alias(["encode", "ls"]) != 0  # nothing trained yet: an error, not an exception
    assert "no tokenizer trained yet" in capsys.readouterr().err
    assert xonsh_alias(["train", "--vocab-size", "700"]) == 0
    assert xonsh_alias(["encode", "ls"]) == 0
    assert xonsh_alias(["--help"]) == 0
    assert xonsh_alias(["no-such-command"]) != 0
    out, err = io.StringIO(), io.StringIO()
    assert xonsh_alias(["encode", "-"], stdin=io.StringIO("ls -la\ngit status\n"), stdout=out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    back = io.StringIO()
    assert xonsh_alias(["decode", "-"], stdin=io.StringIO(out.getvalue()), stdout=back) == 0
    assert back.getvalue() == "ls -la\ngit status\n"
    assert xonsh_alias(["decode", "x"], stderr=err) == 1
    assert err.getvalue().count("\n") == 1 and "not a token id" in err.getvalue()
