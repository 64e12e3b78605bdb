"""The sentencepiece tokenizer plugin, with real sentencepiece models trained in the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from delta_plugins.tokenizer_sentencepiece import MODEL_FILE, SentencePieceTokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.tokenizer.lossless import ESC
from delta_core.tokenizer.pretokenizer import ATOMIC_UNITS, pretokenize
from delta_core.tokenizer.versions import load_tokenizer
from tests.tokenizer_helpers import (
    SHARED_DATA,
    nl2bash_commands,
    sample_commands,
    tldr_commands,
    train_small,
)

ANY_TEXT = st.lists(
    st.one_of(
        st.characters(),  # every category but surrogates: controls, NUL, emoji, RTL …
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
        st.sampled_from(["\u2581", ESC, " ", "  ", "\t", "\n", "\r", "\x00", "&&", "2>&1", '"']),
    ),
    max_size=40,
).map("".join)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    root = tmp_path_factory.mktemp("delta")
    train_small(root)
    return load_tokenizer(root=root)


def test_registered_through_the_tokenizer_hook():
    """delta_register_tokenizers: the built-in plugin offers `sentencepiece`."""
    components = Components.from_manager(make_plugin_manager(env={"DELTA_PLUGINS": ""}))
    assert isinstance(components.tokenizers["sentencepiece"], SentencePieceTokenizer)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_decode_encode_is_the_identity_for_any_string(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert not any(tok.is_special(i) for i in ids)  # text can never forge <cmd> & co


@settings(max_examples=50, deadline=None)
@given(st.lists(ANY_TEXT, max_size=8))
def test_batch_encoding_equals_one_by_one(tok, texts):
    """The word memo is only a cache: results do not depend on what was encoded before."""
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]


def test_encoding_does_not_depend_on_the_cache(tmp_path):
    train_small(tmp_path)
    cold = load_tokenizer(root=tmp_path)
    warm = load_tokenizer(root=tmp_path)
    commands = sample_commands()
    warm.encode_batch(commands[::-1])
    assert cold.encode_batch(commands) == warm.encode_batch(commands)


def test_a_100kb_command_round_trips(tok):
    for text in ["a" * 100_000, 'echo "' + "x|y " * 25_000, "\x00\t▁" * 30_000]:
        assert tok.decode(tok.encode(text)) == text


def test_control_symbol_text_is_just_text(tok):
    ids = tok.encode("echo <cmd> <exit> <s> </s> <pad>")
    assert tok.special("cmd") not in ids and tok.special("exit") not in ids
    assert tok.decode(ids) == "echo <cmd> <exit> <s> </s> <pad>"


def test_no_token_crosses_a_unit_boundary(tok):
    for command in sample_commands():
        if not command.isascii():
            continue
        ends, pos = set(), 0
        for _, text in tok.spans(tok.encode(command)):
            pos += len(text)
            ends.add(pos)
        pos = 0
        for unit in pretokenize(command):
            pos += len(unit)
            assert pos in ends, (command, unit)


def test_operators_and_quotes_are_always_one_token(tok):
    for op in ATOMIC_UNITS:
        pieces = [text for _, text in tok.spans(tok.encode(f"x {op}y"))]
        assert f" {op}" in pieces, (op, pieces)


def test_the_issue_example_shows_sensible_units(tok):
    pieces = [
        t
        for _, t in tok.spans(
            tok.encode('git commit -m "fix: x" && git push origin HEAD:main 2>&1 | tee log')
        )
    ]
    for unit in [" -m", ' "', '"', " &&", " 2>&1", " |"]:
        assert unit in pieces
    assert pieces[0].startswith("g")  # the marker space in front of a command is not shown


def test_training_twice_gives_the_same_bytes_and_ids(tmp_path):
    commands = sample_commands()
    a = train_small(tmp_path / "a", commands=commands)
    b = train_small(tmp_path / "b", commands=list(commands))
    assert (a.directory / MODEL_FILE).read_bytes() == (b.directory / MODEL_FILE).read_bytes()
    assert a.version == b.version
    ta, tb = load_tokenizer(root=tmp_path / "a"), load_tokenizer(root=tmp_path / "b")
    assert ta.encode_batch(commands) == tb.encode_batch(commands)


def test_training_in_another_process_gives_the_same_bytes(tmp_path):
    script = (
        "import sys; from pathlib import Path; from tests.tokenizer_helpers import train_small;"
        "print(train_small(Path(sys.argv[1])).version)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "other")],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    ).stdout.strip()
    assert out == train_small(tmp_path / "here").version


def test_a_vocabulary_too_small_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"too small for this history \(it needs at least \d+\)"):
        SentencePieceTokenizer().train(sample_commands(), tmp_path, 100)


def test_an_empty_history_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to train"):
        SentencePieceTokenizer().train([], tmp_path, 1000)


def test_unknown_ids_are_refused_in_one_line(tok):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([-1])


def test_importing_the_plugin_imports_no_heavy_library():
    code = (
        "import sys, delta_plugins.tokenizer_sentencepiece, delta_core.cli.tokenizer_dataset,"
        " delta_core.tokenizer.versions, delta_core.learn.datasets, delta_core.tokenizer.format;"
        "print([m for m in ('sentencepiece', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not (SHARED_DATA / "nl2bash").is_dir(), reason="shared corpora not present")
def test_real_corpora_round_trip_byte_for_byte(tok):
    """Every NL2Bash command and tldr example decodes to exactly what was encoded."""
    for commands in (nl2bash_commands(), tldr_commands()):
        encoded = tok.encode_batch(commands)
        bad = [c for c, ids in zip(commands, encoded, strict=True) if tok.decode(ids) != c]
        assert not bad, bad[:3]
        assert sum(map(len, encoded)) < 3 * sum(map(len, commands))  # not byte-by-byte
