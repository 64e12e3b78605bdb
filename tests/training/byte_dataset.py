"""A token dataset written with numpy from real commands, for training tests.

The commands are NL2Bash's one-liners (../shared/data/nl2bash, MIT, see its SOURCE.md),
encoded as UTF-8 bytes shifted past three special ids - a stand-in tokenizer that keeps these
tests independent of the sentencepiece pipeline. Groups of commands form "sessions": ``<bos>``
then each command followed by ``<eos>``, padded with ``<pad>`` to a multiple of 16 tokens,
exactly the packed layout of ``delta-tokens-v1``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

NL2BASH = Path("/work/shared/data/nl2bash/all.cm")
PAD, BOS, EOS, OFFSET = 0, 1, 2, 3
VOCAB = 256 + OFFSET


def commands(limit: int | None = None) -> list[str]:
    lines = [ln for ln in NL2BASH.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines[:limit] if limit else lines


def encode_session(cmds: list[str]) -> list[int]:
    ids = [BOS]
    for c in cmds:
        ids += [b + OFFSET for b in c.encode("utf-8")] + [EOS]
    ids += [PAD] * (-len(ids) % 16)
    return ids


def write_dataset(out: Path, n_commands: int = 4000, session_len: int = 6, seed: int = 0) -> Path:
    cmds = commands(n_commands)
    sessions = [cmds[i : i + session_len] for i in range(0, len(cmds), session_len)]
    random.Random(seed).shuffle(sessions)
    cut = int(len(sessions) * 0.9)
    out.mkdir(parents=True, exist_ok=True)
    splits = {}
    for name, part in (("train", sessions[:cut]), ("val", sessions[cut:])):
        ids = np.array([t for s in part for t in encode_session(s)], dtype=np.uint16)
        ids.tofile(out / f"{name}.bin")
        splits[name] = {"file": f"{name}.bin", "tokens": int(ids.size), "sessions": len(part)}
    meta = {
        "format": "delta-tokens-v1",
        "dtype": "uint16",
        "vocab_size": VOCAB,
        "tokenizer_version": "bytes-test",
        "special_ids": {"pad": PAD, "bos": BOS, "eos": EOS},
        "splits": splits,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out
