"""Escaping of the characters sentencepiece cannot carry (▁, lone surrogates)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from delta_core.tokenizer.lossless import ESC, escape, escape_batch, needs_escape, unescape

ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.sampled_from(["\u2581", ESC, "_", chr(0xF0000), chr(0xF07FF)]),
    )
)


@given(ANY_TEXT)
def test_escape_round_trips_and_leaves_only_valid_unicode(text):
    escaped = escape(text)
    assert unescape(escaped) == text
    assert "\u2581" not in escaped
    escaped.encode("utf-8")  # no lone surrogate survives: it would raise here
    assert needs_escape(text) == (escaped != text)


@given(st.lists(ANY_TEXT, max_size=5))
def test_escape_batch_matches_escape(texts):
    assert escape_batch(texts) == [escape(t) for t in texts]


def test_ascii_batches_are_returned_untouched():
    texts = ["ls -la", "git status"]
    assert escape_batch(texts) is texts


@given(st.text())
def test_unescape_never_raises_on_model_output(text):
    unescape(text + ESC)
    unescape(ESC + "z" + text)
