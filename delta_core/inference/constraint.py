"""Which token may come next: spell the typed tail first, never reserved ids, stop at the end.

The engine knows ids, not text; what it needs of the text is here as bytes. A
:class:`TokenRule` turns one row of logits into log-probabilities over the tokens allowed
now (the rest ``-inf``), given the bytes still to be spelled (``pending``: the unfinished
word the user typed, which must come out byte for byte — token healing by constraint).
Every decoder (greedy, speculative, beam, sampling, the server's batches) chooses through
it, so they all obey the same rule.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

import numpy as np


class ByteConstraint:
    """Which tokens may come next so that the output spells ``pending`` bytes first.

    ``token_bytes[i]`` is the text of token ``i`` as bytes (None for reserved ids). A token
    is allowed when its bytes are a prefix of what is pending (it spells part of it) or
    start with all of it (it finishes it and goes on).
    """

    def __init__(self, token_bytes: Sequence[bytes | None]) -> None:
        self.token_bytes = list(token_bytes)
        items = sorted((b, i) for i, b in enumerate(self.token_bytes) if b)
        self._sorted = [b for b, _ in items]
        self._ids = [i for _, i in items]
        self._exact: dict[bytes, list[int]] = {}
        for b, i in items:
            self._exact.setdefault(b, []).append(i)

    def allowed(self, pending: bytes) -> list[int]:
        found = set()
        for k in range(1, len(pending) + 1):
            found.update(self._exact.get(pending[:k], ()))
        i = bisect.bisect_left(self._sorted, pending)
        while i < len(self._sorted) and self._sorted[i].startswith(pending):
            found.add(self._ids[i])
            i += 1
        return sorted(found)

    def banned(self, stop_ids: Iterable[int]) -> list[int]:
        """Reserved ids that are not stop ids: never generated."""
        stop = set(stop_ids)
        return [i for i, b in enumerate(self.token_bytes) if b is None and i not in stop]


def log_softmax(row: np.ndarray) -> np.ndarray:
    row = row.astype(np.float64, copy=False)
    shifted = row - row.max()
    return shifted - np.log(np.exp(shifted).sum())


class TokenRule:
    """The constraint, the stop ids and the banned ids of one tokenizer."""

    def __init__(self, token_bytes: Sequence[bytes | None], stop_ids: Iterable[int]) -> None:
        self.constraint = ByteConstraint(token_bytes)
        self.stop = frozenset(stop_ids)
        self.vocab_size = len(self.constraint.token_bytes)
        self._free = np.ones(self.vocab_size, bool)
        self._free[self.constraint.banned(self.stop)] = False
        self._by_pending: dict[bytes, np.ndarray] = {}

    def allowed_mask(self, pending: bytes) -> np.ndarray:
        if not pending:
            return self._free
        mask = self._by_pending.get(pending)
        if mask is None:
            mask = np.zeros(self.vocab_size, bool)
            mask[self.constraint.allowed(pending)] = True
            if len(self._by_pending) > 4096:
                self._by_pending.clear()
            self._by_pending[pending] = mask
        return mask

    def logprobs(self, logits: np.ndarray, pending: bytes) -> np.ndarray:
        """Log-probabilities (normalised over the whole vocabulary), ``-inf`` where not allowed."""
        lp = log_softmax(logits[: self.vocab_size])
        return np.where(self.allowed_mask(pending), lp, -np.inf)

    def advance(self, pending: bytes, tok: int) -> bytes:
        """What is still to be spelled after ``tok``."""
        b = self.constraint.token_bytes[tok] or b""
        return pending[len(b) :] if len(b) < len(pending) else b""
