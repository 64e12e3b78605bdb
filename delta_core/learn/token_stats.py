"""Figures about a tokenizer and about datasets: what ``delta tokenizer stats`` shows.

Everything here reads; nothing writes. The figures help decide whether the vocabulary fits
the history: many tokens per command or a high byte-fallback rate mean it is too small or
was trained on other commands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from delta_core.learn.datasets import open_dataset

if TYPE_CHECKING:
    from delta_core.tokenizer.shell import ShellTokenizer

PERCENTILES = (50, 90, 99)


def _top(tok: ShellTokenizer, counts: Counter[int], n: int) -> list[dict[str, Any]]:
    total = sum(counts.values()) or 1
    return [
        {"id": i, "piece": tok.piece(i), "count": c, "share": c / total}
        for i, c in counts.most_common(n)
    ]


def tokenizer_stats(
    tok: ShellTokenizer, commands: Sequence[str], *, top: int = 20
) -> dict[str, Any]:
    """Vocabulary size, tokens per command, byte-fallback rate and most frequent tokens.

    ``commands``: a sample to measure on (the history, filtered).
    """
    encoded = tok.encode_batch(list(commands))
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    counts: Counter[int] = Counter()
    for e in encoded:
        counts.update(e)
    n_tokens = int(lengths.sum())
    byte_tokens = sum(c for i, c in counts.items() if tok.is_byte(i))
    used = len(counts)
    return {
        "version": tok.version,
        "vocab_size": tok.vocab_size,
        "commands": len(encoded),
        "tokens": n_tokens,
        "tokens_per_command": {
            "mean": float(lengths.mean()) if len(lengths) else 0.0,
            **{
                f"p{p}": float(np.percentile(lengths, p)) if len(lengths) else 0.0
                for p in PERCENTILES
            },
            "max": int(lengths.max()) if len(lengths) else 0,
        },
        "byte_fallback_rate": byte_tokens / n_tokens if n_tokens else 0.0,
        "vocab_used": used,
        "top_tokens": _top(tok, counts, top),
    }


def dataset_stats(
    directory: Path | str, tok: ShellTokenizer | None = None, *, top: int = 20
) -> dict[str, Any]:
    """Tokens, commands and sessions per split, and (with ``tok``) the most frequent tokens."""
    meta, arrays = open_dataset(directory, tok)
    splits = {}
    for name, ids in arrays.items():
        info = meta["splits"].get(name, {})
        examples = int(info.get("examples", 0))
        splits[name] = {
            "tokens": int(ids.shape[0]),
            "examples": examples,
            "sessions": int(info.get("sessions", 0)),
            "tokens_per_example": ids.shape[0] / examples if examples else 0.0,
            "bytes": int(info.get("bytes", 0)),
        }
    out: dict[str, Any] = {
        "directory": str(directory),
        "tokenizer_version": meta.get("tokenizer_version"),
        "vocab_size": meta.get("vocab_size"),
        "dtype": meta.get("dtype"),
        "split_time_ns": meta.get("split_time_ns"),
        "splits": splits,
        "source": meta.get("source", {}),
    }
    if tok is not None and "train" in arrays and arrays["train"].shape[0]:
        counts = np.bincount(np.asarray(arrays["train"], dtype=np.int64), minlength=tok.vocab_size)
        order = np.argsort(-counts, kind="stable")[:top]
        out["top_tokens"] = _top(tok, Counter({int(i): int(counts[i]) for i in order}), top)
    return out
