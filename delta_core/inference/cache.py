"""Per-sequence KV caches and the one batched step every decoder uses (numpy only).

A :class:`Sequence` owns the keys and values of the ids fed so far (grown by doubling), the
logits after its last id, and the logits at the end of its last prompt, so a prompt seen
again (the next keystroke, same context) costs no forward at all.

:func:`forward_rows` runs one backend step for several sequences at once, each feeding its
own new ids: pasts are padded to the longest, new ids to the most, and the mask keeps every
row to its own valid keys (causal among its new ids). This is what makes continuous
batching possible: rows of any length join and leave between steps.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq

import numpy as np

from delta_core.inference.backends import Shape


class Sequence:
    """The cached state of one id sequence."""

    def __init__(self, shape: Shape, capacity: int = 64) -> None:
        self.shape = shape
        cap = min(capacity, shape.block_size)
        self.kv = np.zeros((shape.n_layer, 2, shape.n_head, cap, shape.head_dim), np.float32)
        self.ids: list[int] = []
        self.last_logits: np.ndarray | None = None  # after ids[-1]
        self.saved: tuple[int, np.ndarray] | None = None  # (prompt length, logits at its end)

    def __len__(self) -> int:
        return len(self.ids)

    def truncate(self, n: int, logits: np.ndarray | None = None) -> None:
        """Keep the first ``n`` ids; ``logits`` are those after the new last id, if known."""
        if n < len(self.ids):
            del self.ids[n:]
            self.last_logits = logits
        if self.saved is not None and self.saved[0] > n:
            self.saved = None

    def reuse(self, prompt: Seq[int]) -> list[int]:
        """Keep the longest cached prefix of ``prompt``; return the ids still to be fed.

        Returns ``[]`` only when the logits after the whole prompt are known already.
        """
        common, limit = 0, min(len(prompt), len(self.ids))
        while common < limit and prompt[common] == self.ids[common]:
            common += 1
        n = len(prompt)
        if common == n and self.saved is not None and self.saved[0] == n:
            self.truncate(n)
            self.last_logits = self.saved[1]
            return []
        if common == n and n == len(self.ids) and self.last_logits is not None:
            return []
        if common == n:
            common -= 1  # feed the last id again to learn what follows it
        self.truncate(max(common, 0))
        return list(prompt[max(common, 0) :])

    def save_prompt_end(self) -> None:
        if self.last_logits is not None:
            self.saved = (len(self.ids), self.last_logits)

    def append(self, ids: Seq[int], kv: np.ndarray, logits: np.ndarray) -> None:
        """Add fed ids with their keys/values (n_layer, 2, n_head, len, head_dim)."""
        n, t = len(self.ids), len(ids)
        if n + t > self.kv.shape[3]:
            cap = min(max(2 * self.kv.shape[3], n + t), self.shape.block_size)
            grown = np.zeros((*self.kv.shape[:3], cap, self.kv.shape[4]), np.float32)
            grown[:, :, :, :n] = self.kv[:, :, :, :n]
            self.kv = grown
        self.kv[:, :, :, n : n + t] = kv
        self.ids.extend(ids)
        self.last_logits = logits

    def fork(self) -> Sequence:
        other = Sequence(self.shape, len(self.ids) + 8)
        n = len(self.ids)
        if n > other.kv.shape[3]:
            other.kv = np.zeros_like(self.kv)
        other.kv[:, :, :, :n] = self.kv[:, :, :, :n]
        other.ids = list(self.ids)
        other.last_logits = self.last_logits
        return other

    def room(self) -> int:
        return self.shape.block_size - len(self.ids)


def forward_rows(backend, rows: list[tuple[Sequence, list[int]]], arena=None) -> list[np.ndarray]:
    """Feed each row's ids after its sequence in one step; return each row's logits (T_b, V).

    Sequences grow by what they were fed (keys, values, last logits). With an
    :class:`~delta_core.inference.arena.Arena` the past is the arena itself (no copy).
    """
    shape = backend.shape
    order = [seq for seq, _ in rows]
    if arena is not None:
        rows = arena.bind(rows)  # in slot order
        past = arena.past
    else:
        P = max(len(s) for s, _ in rows)
        past = np.empty((shape.n_layer, 2, len(rows), shape.n_head, P, shape.head_dim), np.float32)
        for b, (seq, _) in enumerate(rows):
            n = len(seq)
            if n:
                past[:, :, b, :, :n] = seq.kv[:, :, :, :n]
            past[:, :, b, :, n:] = 0.0  # masked, but must be finite (0 * NaN is NaN)
    B, P = len(rows), past.shape[4]
    lens = np.array([len(seq) for seq, _ in rows])
    feeds = np.array([len(ids) for _, ids in rows])
    T = int(feeds.max())
    input_ids = np.zeros((B, T), np.int64)
    for b, (_, ids) in enumerate(rows):
        input_ids[b, : len(ids)] = ids
    positions = np.minimum(lens[:, None] + np.arange(T), shape.block_size - 1)
    mask = np.empty((B, T, P + T), bool)
    mask[:, :, :P] = np.arange(P) < lens[:, None, None]  # each row's own valid keys
    # causal among a row's new ids; its padding queries look at themselves only
    real = (np.arange(T) < feeds[:, None])[:, :, None]
    mask[:, :, P:] = np.where(real, np.tri(T, dtype=bool), np.eye(T, dtype=bool))
    mask[:, :, :P] &= real
    logits, new_kv = backend.step(input_ids, positions, mask, past)
    out = {}
    for b, (seq, ids) in enumerate(rows):
        t = len(ids)
        seq.append(ids, new_kv[:, :, b, :, :t], logits[b, t - 1])
        out[id(seq)] = logits[b, :t]
    return [out[id(seq)] for seq in order]
