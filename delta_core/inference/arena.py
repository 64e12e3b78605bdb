"""One array for the caches of the sequences a batch is running (numpy only).

Assembling a padded past for every batched step copies each row's whole cache, as much work
as the step itself on a CPU. An :class:`Arena` keeps the running sequences' caches in slots
of one ``(n_layer, 2, slots, n_head, capacity, head_dim)`` array instead: each sequence's
``kv`` becomes a view of its slot, so a step passes the occupied slots as the past unchanged
and the new keys land in place. Only a sequence joining copies its cache in (once); a
finished one is copied out (once) when it leaves.

The occupied slots are kept packed at the front (a leaving sequence's slot is filled by the
last one, one slot copied) and only they go to the model (:attr:`past`, a contiguous view):
a free slot would cost a padding row that still reads a whole slot of keys and values every
step, which is most of a decoding row's cost on a CPU.
"""

from __future__ import annotations

import numpy as np

from delta_core.inference.cache import Sequence
from delta_core.inference.onnx_file import Shape

#: Spare positions per slot beyond the longest sequence, so growth rarely rebuilds.
SPARE = 48


class Arena:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.buf: np.ndarray | None = None
        self.slots: list[Sequence] = []  # the occupied slots, packed: slot b = slots[b]

    @property
    def past(self) -> np.ndarray:
        """The occupied slots' caches: what a step takes as its past (a view, no copy)."""
        return self.buf[:, :, : len(self.slots)]

    def _bound(self, seq: Sequence) -> bool:
        return self.buf is not None and seq.kv.base is self.buf

    @staticmethod
    def _detach(seq: Sequence) -> None:
        seq.kv = seq.kv[:, :, :, : max(seq.filled, 1)].copy()

    def _put(self, seq: Sequence, b: int) -> None:
        seq.keep_within(self.buf.shape[4])
        n = seq.filled  # kept ids' keys and values move too
        self.buf[:, :, b, :, :n] = seq.kv[:, :, :, :n]
        seq.kv = self.buf[:, :, b]

    def _rebuild(self, seqs: list[Sequence], need: int) -> None:
        s = self.shape
        # never smaller than before (a batch of short sequences would make the next long one
        # rebuild again); spare slots cost no step, and no memory until used (zero pages):
        # be generous, a rebuild copies every running cache
        old_room, old_cap = (0, 0) if self.buf is None else self.buf.shape[2:5:2]
        cap = min(s.block_size, max(need + SPARE, old_cap))
        room = max(16, 2 * len(seqs), old_room)
        for seq in self.slots:
            if seq not in seqs and self._bound(seq):
                self._detach(seq)
        self.buf = np.zeros((s.n_layer, 2, room, s.n_head, cap, s.head_dim), np.float32)
        for b, seq in enumerate(seqs):
            seq.keep_within(cap)
            n = seq.filled
            self.buf[:, :, b, :, :n] = seq.kv[:, :, :, :n]
        for b, seq in enumerate(seqs):  # views last: a bound one was read from the old array
            seq.kv = self.buf[:, :, b]
        self.slots = list(seqs)

    def bind(self, rows: list[tuple[Sequence, list[int]]]) -> list[tuple[Sequence, list[int]]]:
        """Put every row's sequence in a slot; return the rows in slot order."""
        seqs = [seq for seq, _ in rows]
        need = max(len(seq) + len(ids) for seq, ids in rows)
        cap = 0 if self.buf is None else self.buf.shape[4]
        wanted = {id(s) for s in seqs}
        if need > cap or len(wanted) != len(seqs):
            self._rebuild(seqs, need)
        else:
            old = self.slots
            keep = [id(seq) in wanted and self._bound(seq) for seq in old]
            for seq, k in zip(old, keep, strict=True):
                if not k and self._bound(seq):
                    self._detach(seq)
            # pack: each hole takes a sequence from beyond the kept count (one slot copied)
            n_kept = sum(keep)
            movers = [old[b] for b in range(n_kept, len(old)) if keep[b]]
            packed = [old[b] if keep[b] else None for b in range(n_kept)]
            for b, slot in enumerate(packed):
                if slot is None:
                    packed[b] = movers.pop()
                    self._put(packed[b], b)
            self.slots = packed
            placed = {id(s) for s in packed}
            joining = [s for s in seqs if id(s) not in placed]
            if len(packed) + len(joining) > self.buf.shape[2]:
                self._rebuild(seqs, need)
            else:
                for seq in joining:
                    self._put(seq, len(self.slots))
                    self.slots.append(seq)
        by_id = {id(seq): (seq, ids) for seq, ids in rows}
        return [by_id[id(s)] for s in self.slots]

    def release(self) -> None:
        """Give every sequence its own cache back (before the arena is dropped)."""
        for seq in self.slots:
            if self._bound(seq):
                self._detach(seq)
        self.buf, self.slots = None, []
