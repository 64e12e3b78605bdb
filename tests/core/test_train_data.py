"""Token datasets: validation of meta.json, counter-based batches, padding masked in targets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from delta_core.learn.train.data import IGNORE_INDEX, DatasetError, TokenDataset


def _write(directory, train, val, dtype="uint16", pad=0, **meta_extra):
    directory.mkdir(parents=True, exist_ok=True)
    np.asarray(train, dtype=dtype).tofile(directory / "train.bin")
    np.asarray(val, dtype=dtype).tofile(directory / "val.bin")
    meta = {
        "format": "delta-tokens-v1",
        "dtype": dtype,
        "vocab_size": 70_000 if dtype == "uint32" else 500,
        "tokenizer_version": "t1",
        "special_ids": {"pad": pad, "bos": 1, "eos": 2},
        "splits": {"train": {"file": "train.bin"}, "val": {"file": "val.bin"}},
        **meta_extra,
    }
    (directory / "meta.json").write_text(json.dumps(meta))
    return directory


def test_batches_are_shifted_windows_with_padding_ignored(tmp_path):
    stream = np.arange(3, 203) % 50
    stream[::7] = 0  # padding sprinkled through the stream
    ds = TokenDataset.open(_write(tmp_path, stream, stream[:60]))
    x, y = ds.batch("train", seed=1, step=0, micro=0, batch_size=5, block_size=16)
    assert x.shape == y.shape == (5, 16) and x.dtype == np.int64
    for row_x, row_y in zip(x, y, strict=True):
        start = int(np.flatnonzero(np.all(
            np.lib.stride_tricks.sliding_window_view(stream, 16) == row_x, axis=1))[0])  # fmt: skip
        target = stream[start + 1 : start + 17].astype(np.int64)
        target[target == 0] = IGNORE_INDEX
        assert np.array_equal(row_y, target)
    assert (y == IGNORE_INDEX).any()


def test_a_batch_depends_only_on_seed_step_and_micro_batch(tmp_path):
    ds = TokenDataset.open(_write(tmp_path, np.arange(1000) % 400, np.arange(100)))
    a = ds.batch("train", seed=3, step=7, micro=1, batch_size=4, block_size=8)
    b = ds.batch("train", seed=3, step=7, micro=1, batch_size=4, block_size=8)
    c = ds.batch("train", seed=3, step=7, micro=2, batch_size=4, block_size=8)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


def test_uint32_datasets_for_large_vocabularies(tmp_path):
    ids = np.arange(66_000, 66_100)
    ds = TokenDataset.open(_write(tmp_path, ids, ids, dtype="uint32"))
    x, _ = ds.batch("val", seed=0, step=0, micro=0, batch_size=2, block_size=10)
    assert x.min() >= 66_000 and ds.stats()["dtype"] == "uint32"


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no_meta", "no meta.json"),
        ("bad_json", "not valid JSON"),
        ("bad_format", "expected 'delta-tokens-v1'"),
        ("empty_val", "val.bin is empty"),
        ("missing_train", "missing train.bin"),
    ],
)
def test_unusable_datasets_are_one_line_errors(tmp_path, breakage, message):
    d = _write(tmp_path / "ds", np.arange(50), np.arange(50))
    if breakage == "no_meta":
        (d / "meta.json").unlink()
    elif breakage == "bad_json":
        (d / "meta.json").write_text("{")
    elif breakage == "bad_format":
        _write(d, np.arange(50), np.arange(50), format="other")
    elif breakage == "empty_val":
        (d / "val.bin").write_bytes(b"")
    else:
        (d / "train.bin").unlink()
    with pytest.raises(DatasetError, match=message) as info:
        TokenDataset.open(d)
    assert "\n" not in str(info.value)
