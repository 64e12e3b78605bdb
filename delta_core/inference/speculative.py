"""Drafts for speculative decoding: prompt lookup over the user's own history.

Shell sessions repeat themselves: the command being written has usually been written
before, in this session's context or elsewhere in the history. :class:`PromptLookup`
proposes, as a draft, what followed the longest n-gram that ends the current ids, looked up
in the ids themselves (the session context is in the prompt) and in extra id sequences the
caller supplies (history commands matching what was typed, the previous completion).

A draft is only a guess: the decoder feeds it after the last chosen token in one forward
pass and keeps the longest prefix the target model would have chosen itself (see
:class:`~delta_core.inference.decode.GreedyJob`), so the output equals plain greedy
decoding whatever the draft is. :class:`ModelDrafter` drafts with a smaller model instead.
"""

from __future__ import annotations

from collections.abc import Sequence


def _find(seq: Sequence[int], key: list[int], end: int) -> int:
    """The last start ``i < end - len(key)`` with ``seq[i:i+len(key)] == key``, or -1."""
    n = len(key)
    first = key[0]
    for i in range(end - n - 1, -1, -1):
        if seq[i] == first and list(seq[i : i + n]) == key:
            return i
    return -1


class PromptLookup:
    """Continuations of the longest matching n-gram (``max_ngram`` down to ``min_ngram``)."""

    def __init__(self, max_ngram: int = 4, min_ngram: int = 1, max_draft: int = 12) -> None:
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram
        self.max_draft = max_draft

    def draft(self, ids: Sequence[int], extra: Sequence[Sequence[int]] = (), limit: int = 0):
        """Up to ``limit`` (default ``max_draft``) ids that may follow ``ids``."""
        limit = min(limit or self.max_draft, self.max_draft)
        if limit <= 0 or not ids:
            return []
        for n in range(min(self.max_ngram, len(ids)), self.min_ngram - 1, -1):
            key = list(ids[-n:])
            # the caller's sequences first: they are the freshest guesses for this command
            for seq in extra:
                i = _find(seq, key, len(seq) + 1)
                if i >= 0 and i + n < len(seq):
                    return list(seq[i + n : i + n + limit])
            i = _find(ids, key, len(ids))
            if i >= 0:
                return list(ids[i + n : i + n + limit])
        return []


class ModelDrafter:
    """Greedy drafts from a smaller model sharing the tokenizer (an optional draft source).

    It keeps its own cache of the sequence it drafted for, so each draft costs the draft
    model one step per proposed token plus whatever the target accepted since.
    """

    def __init__(self, backend, max_draft: int = 6) -> None:
        from delta_core.inference.cache import Sequence as CachedSeq

        self.backend = backend
        self.max_draft = max_draft
        self.seq = CachedSeq(backend.shape)

    def draft(self, ids: Sequence[int], extra: Sequence[Sequence[int]] = (), limit: int = 0):
        from delta_core.inference.cache import forward_rows

        limit = min(
            limit or self.max_draft, self.max_draft, self.backend.shape.block_size - len(ids) - 1
        )
        if limit <= 0 or len(ids) >= self.backend.shape.block_size:
            return []
        feed = self.seq.reuse(list(ids))
        out: list[int] = []
        while len(out) < limit:
            if feed:
                forward_rows(self.backend, [(self.seq, feed)])
            tok = int(self.seq.last_logits.argmax())
            out.append(tok)
            feed = [tok]
        return out
