"""Per-sequence KV caches and the one batched step every decoder uses (numpy only).

A :class:`Sequence` owns the keys and values of the ids fed so far (grown by doubling), the
logits after its last id, and the logits at the end of its last prompt, so a prompt seen
again (the next keystroke, same context) costs no forward at all.

It also keeps what it forgets: ids cut off by :meth:`Sequence.truncate` (the previous
keystroke's completion, a rejected draft) stay as its *kept continuation* while their keys
and values are still in place, with the logits after each of them. Feeding those same ids
again (:meth:`Sequence.replay`) costs nothing: a user typing along the suggestion gets the
rest of it back without a forward pass. The logits are the ones the model computed for
exactly those ids, so the output is still plain greedy decoding's. This is speculation whose
check is free (the continuation is a draft: the previous completion), so an engine without
speculation keeps nothing (``keep=False``) and decodes as plain greedy always did.

:func:`forward_rows` runs one backend step for several sequences at once, each feeding its
own new ids: pasts are padded to the longest, new ids to the most, and the mask keeps every
row to its own valid keys (causal among its new ids). This is what makes continuous
batching possible: rows of any length join and leave between steps.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq

import numpy as np

from delta_core.inference.onnx_file import Shape

#: Feeds of at most this many ids keep their logits per position (decoding steps, drafts,
#: a few typed words), the ones a kept continuation is replayed from; prompts do not.
KEEP_FEED = 32
#: Logits kept this far behind the end at most (enough for a completion and its prompt tail).
KEEP_BACK = 48


class Sequence:
    """The cached state of one id sequence."""

    def __init__(self, shape: Shape, capacity: int = 64, keep: bool = True) -> None:
        self.shape = shape
        self.keep = keep  # keep what is cut off (False: plain greedy's cache, no replay)
        cap = min(capacity, shape.block_size)
        self.kv = np.zeros((shape.n_layer, 2, shape.n_head, cap, shape.head_dim), np.float32)
        self.ids: list[int] = []
        self.last_logits: np.ndarray | None = None  # after ids[-1]
        self.saved: tuple[int, np.ndarray] | None = None  # (prompt length, logits at its end)
        #: ids after the end whose keys/values are still in ``kv`` (a kept continuation)
        self.kept: list[int] = []
        #: length -> logits after the id at position length - 1 (for ids and ``kept``)
        self.rows: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def filled(self) -> int:
        """Positions of ``kv`` that hold keys and values (the ids and the kept ones)."""
        return len(self.ids) + len(self.kept)

    def keep_within(self, capacity: int) -> None:
        """Forget kept ids that do not fit ``capacity`` positions (the cache is moving)."""
        del self.kept[max(0, capacity - len(self.ids)) :]
        self._forget_rows_after(self.filled)

    def _forget_rows_after(self, n: int) -> None:
        for k in [k for k in self.rows if k > n]:
            del self.rows[k]

    def truncate(self, n: int, logits: np.ndarray | None = None) -> None:
        """Keep the first ``n`` ids; ``logits`` are those after the new last id, if known.

        The ids cut off are kept (see :meth:`replay`) until something else is fed there.
        """
        if n < len(self.ids):
            self.kept = self.ids[n:] + self.kept if self.keep else []
            del self.ids[n:]
            self.last_logits = logits if logits is not None else self.rows.get(n)
        if self.saved is not None and self.saved[0] > n:
            self.saved = None

    def known(self, ids: Seq[int]) -> int:
        """How many of ``ids`` (to be fed next) the kept continuation holds, with logits."""
        n, k = len(self.ids), 0
        while (
            k < len(ids)
            and k < len(self.kept)
            and self.kept[k] == ids[k]
            and n + k + 1 in self.rows
        ):
            k += 1
        return k

    def replay(self, ids: Seq[int]) -> list[np.ndarray] | None:
        """Feed ``ids`` from the kept continuation, without a forward pass: their logits
        (as :func:`forward_rows` would return them), or None when it does not hold them all."""
        t = len(ids)
        if not t or self.known(ids) < t:
            return None
        n = len(self.ids)
        self._move_end(n + t)  # known() checked that rows holds every one of them
        return [self.rows[n + i + 1] for i in range(t)]

    def _move_end(self, m: int) -> None:
        """End at ``m`` ids: cut (keeping the rest) or take ``m - len`` ids from ``kept``."""
        n = len(self.ids)
        if m <= n:
            self.truncate(m)
        else:
            self.ids.extend(self.kept[: m - n])
            del self.kept[: m - n]
            self.last_logits = self.rows.get(m)

    def reuse(self, prompt: Seq[int]) -> list[int]:
        """Keep the longest cached prefix of ``prompt``; return the ids still to be fed.

        Returns ``[]`` only when the logits after the whole prompt are known already. The
        prompt may run into the kept continuation (the next word typed as suggested).
        """
        have = self.ids + self.kept
        common, limit = 0, min(len(prompt), len(have))
        while common < limit and prompt[common] == have[common]:
            common += 1
        n = len(prompt)
        if common == n:
            if self.saved is not None and self.saved[0] == n:
                self._move_end(n)
                self.last_logits = self.saved[1]
                return []
            if n == len(self.ids) and self.last_logits is not None:
                return []
            if n in self.rows:
                self._move_end(n)
                return []
            common -= 1  # feed the last id again to learn what follows it
        self._move_end(max(common, 0))
        return list(prompt[max(common, 0) :])

    def save_prompt_end(self) -> None:
        if self.last_logits is not None:
            self.saved = (len(self.ids), self.last_logits)

    def append(self, ids: Seq[int], kv: np.ndarray, logits: np.ndarray) -> None:
        """Add fed ids with their keys/values (n_layer, 2, n_head, len, head_dim) and the
        logits after each of them (len, vocab)."""
        n, t = len(self.ids), len(ids)
        if list(ids) == self.kept[:t]:
            del self.kept[:t]  # fed again as kept: what is after them still holds
        else:
            self.kept = []
            self._forget_rows_after(n)
        if n + t > self.kv.shape[3]:
            cap = min(max(2 * self.kv.shape[3], n + t), self.shape.block_size)
            self.keep_within(cap)
            grown = np.zeros((*self.kv.shape[:3], cap, self.kv.shape[4]), np.float32)
            grown[:, :, :, : self.filled] = self.kv[:, :, :, : self.filled]
            self.kv = grown
        self.kv[:, :, :, n : n + t] = kv
        self.ids.extend(ids)
        self.last_logits = logits[t - 1]
        if t <= KEEP_FEED and self.keep:
            for i in range(t):
                self.rows[n + i + 1] = logits[i].copy()
            if len(self.rows) > KEEP_BACK + KEEP_FEED:
                for k in [k for k in self.rows if k < len(self.ids) - KEEP_BACK]:
                    del self.rows[k]

    def fork(self) -> Sequence:
        other = Sequence(self.shape, len(self.ids) + 8, self.keep)
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
    :class:`~delta_core.inference.arena.Arena` the past is the arena itself, and one row's
    past is its own cache (no copy either way); several rows without an arena are copied
    into one padded past.
    """
    shape = backend.shape
    order = [seq for seq, _ in rows]
    if arena is not None:
        rows = arena.bind(rows)  # in slot order
        past = arena.past
    elif len(rows) == 1:  # its own cache is a batch of one (a view): nothing is copied
        past = rows[0][0].kv[:, :, None]
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
        seq.append(ids, new_kv[:, :, b, :, :t], logits[b, :t])
        out[id(seq)] = logits[b, :t]
    return [out[id(seq)] for seq in order]
