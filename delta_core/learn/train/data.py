"""Reading a token dataset for training: memory-mapped splits and reproducible batches.

A dataset directory holds ``train.bin`` and ``val.bin`` (little-endian ``uint16`` ids when the
vocabulary has fewer than 65,536 entries, else ``uint32``) and ``meta.json``
(``format: delta-tokens-v1``, ``dtype``, ``vocab_size``, ``tokenizer_version``,
``special_ids`` with at least ``pad``, and ``splits``). The stream is packed sessions; a
batch is random windows of ``block_size + 1`` tokens, the targets shifted by one.

Where a window starts depends only on ``(seed, split, step, micro-batch number)`` - a counter,
not a stateful generator. So the data position of a run is its step number (exact resume for
free), and a micro-batch is the same whichever process of a DDP run draws it (a run on two
processes sees exactly the batches of a run on one with the same global batch).
Imports numpy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "delta-tokens-v1"
SPLITS = {"train": 0, "val": 1}
IGNORE_INDEX = -1  # the model's ignore index (delta_core.lm.gpt.IGNORE_INDEX), without torch


class DatasetError(ValueError):
    """The dataset directory cannot be used; the message is one line a user can act on."""


@dataclass
class TokenDataset:
    directory: Path
    meta: dict[str, Any]
    splits: dict[str, np.ndarray]

    @classmethod
    def open(cls, directory: Path | str) -> TokenDataset:
        """Open a dataset directory; raise :class:`DatasetError` when it is not usable."""
        directory = Path(directory)
        meta_path = directory / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatasetError(f"{directory} is not a dataset: no meta.json") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{meta_path} is not valid JSON ({exc})") from None
        if meta.get("format") != FORMAT:
            raise DatasetError(
                f"{meta_path}: format is {meta.get('format')!r}, expected {FORMAT!r}"
            )
        dtype = np.dtype(meta.get("dtype", "uint16"))
        if dtype not in (np.dtype(np.uint16), np.dtype(np.uint32)):
            raise DatasetError(f"{meta_path}: dtype {dtype} is not uint16 or uint32")
        splits = {}
        for name in SPLITS:
            info = meta.get("splits", {}).get(name, {})
            path = directory / info.get("file", f"{name}.bin")
            if not path.exists():
                raise DatasetError(f"{directory}: missing {path.name}")
            if path.stat().st_size == 0:
                raise DatasetError(f"{path} is empty: the history is too small to train on")
            splits[name] = np.memmap(path, dtype=dtype, mode="r")
        return cls(directory, meta, splits)

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def pad_id(self) -> int | None:
        pad = self.meta.get("special_ids", {}).get("pad")
        return None if pad is None else int(pad)

    @property
    def tokenizer_version(self) -> str:
        return str(self.meta.get("tokenizer_version", ""))

    def tokens(self, split: str) -> int:
        return int(self.splits[split].shape[0])

    def max_block_size(self) -> int:
        """The longest window both splits can supply (targets need one token more)."""
        return min(self.tokens(s) for s in SPLITS) - 1

    def batch(
        self, split: str, *, seed: int, step: int, micro: int, batch_size: int, block_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets, ``int64`` arrays of shape ``(batch_size, block_size)``.

        Targets that are padding become :data:`IGNORE_INDEX`, so they do not count in the loss.
        """
        data = self.splits[split]
        n = data.shape[0] - block_size - 1
        if n < 0:
            raise DatasetError(
                f"the {split} split has {data.shape[0]} tokens, too few for windows of "
                f"{block_size}; use a smaller --block-size"
            )
        rng = np.random.default_rng([seed, SPLITS[split], step, micro])
        starts = rng.integers(0, n + 1, size=batch_size)
        windows = data[starts[:, None] + np.arange(block_size + 1)].astype(np.int64)
        x = windows[:, :-1]
        y = windows[:, 1:].copy()
        if self.pad_id is not None:
            y[y == self.pad_id] = IGNORE_INDEX
        return np.ascontiguousarray(x), y

    def stats(self) -> dict[str, Any]:
        """What the registry keeps about the data a model saw."""
        return {
            "format": self.meta.get("format"),
            "vocab_size": self.vocab_size,
            "tokenizer_version": self.tokenizer_version,
            "tokens": {s: self.tokens(s) for s in SPLITS},
            "dtype": str(self.splits["train"].dtype),
        }
