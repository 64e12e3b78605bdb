"""Token dataset files: the contract trainers read, and no mixing of tokenizers."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest

from delta_core.learn.datasets import (
    DatasetError,
    dtype_for,
    open_dataset,
    write_dataset_from_sessions,
)
from delta_core.tokenizer.format import Turn, render, session_ids
from delta_core.tokenizer.versions import load_tokenizer
from tests.tokenizer_helpers import sample_commands, train_small


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    train_small(a, 700)
    train_small(b, 800)
    return load_tokenizer(root=a), load_tokenizer(root=b)


def test_meta_and_files_follow_the_contract(tmp_path, toks):
    tok = toks[0]
    sessions = [[Turn("git status", "/home/ada", 0), Turn("ls", "/tmp", 1)], "make", "make test"]
    meta = write_dataset_from_sessions(tmp_path / "ds", tok, sessions, val_fraction=0.34)
    on_disk = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert on_disk == meta
    assert meta["format"] == "delta-tokens-v1" and meta["dtype"] == "uint16"
    assert meta["vocab_size"] == tok.vocab_size and meta["tokenizer_version"] == tok.version
    for name in ("pad", "bos", "eos", "cmd", "cwd", "exit"):
        assert meta["special_ids"][name] == tok.special(name)
    assert meta["splits"]["train"]["file"] == "train.bin"
    assert meta["splits"]["train"]["examples"] == 3 and meta["splits"]["val"]["examples"] == 1
    assert "split_time_ns" in meta
    train = np.memmap(tmp_path / "ds" / "train.bin", dtype=np.uint16, mode="r")
    assert len(train) == meta["splits"]["train"]["tokens"]
    assert train.tolist() == session_ids(tok, sessions[0]) + session_ids(tok, ["make"])
    assert render(tok, train.tolist()).startswith("<s><cwd>~<cmd>git status<exit>0<cwd>/tmp")
    for p in (tmp_path / "ds").iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ds").stat().st_mode) == 0o700


def test_a_dataset_refuses_another_tokenizer(tmp_path, toks):
    a, b = toks
    assert a.version != b.version
    write_dataset_from_sessions(tmp_path / "ds", a, sample_commands()[:50])
    before = (tmp_path / "ds" / "train.bin").read_bytes()
    with pytest.raises(DatasetError, match=f"built with tokenizer {a.version}"):
        write_dataset_from_sessions(tmp_path / "ds", b, sample_commands()[:50])
    assert (tmp_path / "ds" / "train.bin").read_bytes() == before  # nothing lost
    with pytest.raises(DatasetError, match="not " + b.version):
        open_dataset(tmp_path / "ds", b)
    write_dataset_from_sessions(tmp_path / "ds", b, sample_commands()[:50], replace=True)
    meta, arrays = open_dataset(tmp_path / "ds", b)
    assert meta["tokenizer_version"] == b.version and arrays["train"].size > 0


def test_ids_use_uint32_only_when_they_must():
    assert dtype_for(4096) == np.uint16 and dtype_for(65_535) == np.uint16
    assert dtype_for(65_536) == np.uint32 and dtype_for(200_000) == np.uint32


def test_the_trainer_reads_what_is_written(tmp_path, toks):
    """The training loop's reader (delta_core.learn.train.data) takes windows of this stream."""
    train_data = pytest.importorskip("delta_core.learn.train.data")
    tok = toks[0]
    write_dataset_from_sessions(tmp_path / "ds", tok, sample_commands(), val_fraction=0.2)
    ds = train_data.TokenDataset.open(tmp_path / "ds")
    x, y = ds.batch("train", seed=1, step=0, micro=0, batch_size=2, block_size=16)
    assert x.shape == (2, 16) and (x[:, 1:] == y[:, :-1]).all()
    assert ds.tokenizer_version == tok.version and ds.pad_id == tok.special("pad")
