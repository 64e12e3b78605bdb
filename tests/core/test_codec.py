from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delta_core.records import codec
from delta_core.records.record import Record

text = st.text(st.characters(codec=None), max_size=300)  # includes lone surrogates

records = st.builds(
    Record,
    command=text,
    start_ns=st.integers(0, 2**62),
    cwd=text,
    exit=st.none() | st.integers(-(2**31), 2**31 - 1),
    duration=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    session=text,
    host=text,
    user=text,
    shell=text,
    utc_offset=st.integers(-14 * 60, 14 * 60),
    extra=st.dictionaries(text, text, max_size=5),
)


@given(records)
def test_encode_decode_roundtrip(rec):
    key = codec.record_key(rec)
    back = codec.decode(codec.encode(rec), key)
    assert back == rec
    assert codec.key_time_ns(key) == rec.start_ns
    assert codec.decode_brief(codec.encode(rec)) == (
        rec.start_ns,
        rec.utc_offset,
        rec.exit,
        rec.command,
    )


@given(records, st.integers(0, 10_000), st.integers(1, 255))
def test_any_flipped_byte_is_detected(rec, pos, delta):
    data = bytearray(codec.encode(rec))
    pos %= len(data)
    data[pos] = (data[pos] + delta) % 256
    with pytest.raises(codec.CodecError):
        codec.decode(bytes(data), codec.record_key(rec))


@given(st.binary(max_size=200))
def test_garbage_never_raises_anything_but_codec_error(data):
    with contextlib.suppress(codec.CodecError):
        codec.decode(data)


def test_keys_sort_by_time():
    a = Record("a", start_ns=1_000)
    b = Record("b", start_ns=2_000)
    assert codec.record_key(a) < codec.record_key(b)
    assert codec.time_key(1_500) > codec.record_key(a)
