"""One array for the caches of the sequences a batch is running (numpy only).

Assembling a padded past for every batched step copies each row's whole cache, as much work
as the step itself on a CPU. An :class:`Arena` keeps the running sequences' caches in slots
of one ``(n_layer, 2, slots, n_head, capacity, head_dim)`` array instead: each sequence's
``kv`` becomes a view of its slot, so a step passes the arena as the past unchanged and the
new keys land in place. Only a sequence joining copies its cache in (once); a finished one
is copied out (once) when its slot is given to another. Free slots ride along as padding
rows until the arena is compacted.
"""

from __future__ import annotations

import numpy as np

from delta_core.inference.backends import Shape
from delta_core.inference.cache import Sequence

#: Spare positions per slot beyond the longest sequence, so growth rarely rebuilds.
SPARE = 48


class Arena:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.buf: np.ndarray | None = None
        self.slots: list[Sequence | None] = []

    def _bound(self, seq: Sequence) -> bool:
        return self.buf is not None and seq.kv.base is self.buf

    @staticmethod
    def _detach(seq: Sequence) -> None:
        seq.kv = seq.kv[:, :, :, : max(len(seq), 1)].copy()

    def _rebuild(self, seqs: list[Sequence], need: int) -> None:
        s = self.shape
        cap = min(s.block_size, need + SPARE)
        slots = max(len(seqs), 1)
        buf = np.zeros((s.n_layer, 2, slots, s.n_head, cap, s.head_dim), np.float32)
        for old in self.slots:
            if old is not None and old not in seqs and self._bound(old):
                self._detach(old)
        for b, seq in enumerate(seqs):
            n = len(seq)
            buf[:, :, b, :, :n] = seq.kv[:, :, :, :n]
            seq.kv = buf[:, :, b]
        self.buf, self.slots = buf, list(seqs)

    def bind(
        self, rows: list[tuple[Sequence, list[int]]]
    ) -> list[tuple[Sequence, list[int]] | None]:
        """Put every row's sequence in a slot; return the rows by slot (None: a free slot)."""
        seqs = [seq for seq, _ in rows]
        need = max(len(seq) + len(ids) for seq, ids in rows)
        cap = 0 if self.buf is None else self.buf.shape[4]
        if need > cap or len(set(map(id, seqs))) != len(seqs):
            self._rebuild(seqs, need)
        else:
            wanted = {id(s) for s in seqs}
            for b, old in enumerate(self.slots):
                if old is not None and (id(old) not in wanted or not self._bound(old)):
                    if self._bound(old):
                        self._detach(old)
                    self.slots[b] = None
            placed = {id(s) for s in self.slots if s is not None}
            joining = [s for s in seqs if id(s) not in placed]
            free = [b for b, s in enumerate(self.slots) if s is None]
            if len(joining) > len(free) or len(free) - len(joining) > max(4, len(seqs)):
                self._rebuild(seqs, need)
            else:
                for seq, b in zip(joining, free, strict=False):
                    n = len(seq)
                    self.buf[:, :, b, :, :n] = seq.kv[:, :, :, :n]
                    seq.kv = self.buf[:, :, b]
                    self.slots[b] = seq
        by_id = {id(seq): (seq, ids) for seq, ids in rows}
        return [None if s is None else by_id.get(id(s)) for s in self.slots]

    def release(self) -> None:
        """Give every sequence its own cache back (before the arena is dropped)."""
        for seq in self.slots:
            if seq is not None and self._bound(seq):
                self._detach(seq)
        self.buf, self.slots = None, []
