"""Decoding as resumable jobs over token ids: greedy (with speculation), top-k sampling, beam.

A job says which ids each of its rows feeds next (:meth:`rows`) and takes the logits back
(:meth:`advance`); it never calls a model itself. So one job runs alone in
:class:`~delta_core.inference.engine.Engine`, and many jobs share each forward pass in the
server's continuous batch, with the same code choosing every token.

Every choice goes through a :class:`~delta_core.inference.constraint.TokenRule` (spell the
typed tail first, no reserved ids) and a completion ends at a stop id; a job that reaches
``max_new`` tokens or the model's block size without one ends with no result (an
unfinished command is not worth showing). A greedy completion's probability is conditioned
on what was typed (each step that spells the typed tail is renormalised over the tokens
allowed), so the suggest engine can mix it with history's probability given the prefix.

Speculation (greedy only): after choosing a token, the job asks its drafter for guesses and
feeds the token plus the draft in one step. Row ``i`` of the logits is what the model would
have seen after the ``i``-th draft token, so the job walks the rows choosing exactly as plain
greedy would, accepts draft tokens while they equal its choice and drops the cache of the
rest: the output is the greedy output, only the number of forward passes changes. A draft
the sequence already holds (its kept continuation: what the previous keystroke's completion
fed, see :mod:`~delta_core.inference.cache`) is checked for free, its logits being kept: the
job walks it with no step at all, even in a busy batch that drafts nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from delta_core.inference.cache import Sequence
from delta_core.inference.constraint import TokenRule


@dataclass
class Completion:
    ids: list[int]
    logprob: float


@dataclass
class DraftStats:
    steps: int = 0  # forward passes of the job (prompt included)
    drafted: int = 0
    accepted: int = 0
    replayed: int = 0  # ids taken from the sequence's kept continuation (no forward)

    def add(self, other: DraftStats) -> None:
        self.steps += other.steps
        self.drafted += other.drafted
        self.accepted += other.accepted
        self.replayed += other.replayed

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


@dataclass
class Sampling:
    """Top-k sampling instead of greedy choice (no speculation then)."""

    top_k: int = 8
    temperature: float = 1.0
    rng: np.random.Generator = field(default_factory=np.random.default_rng)


class GreedyJob:
    """One completion of ``prompt``: greedy (optionally speculative) or top-k sampled."""

    def __init__(
        self,
        seq: Sequence,
        prompt: list[int],
        rule: TokenRule,
        pending: bytes = b"",
        max_new: int = 24,
        drafter=None,
        extra: list[list[int]] | None = None,
        sampling: Sampling | None = None,
    ) -> None:
        self.seq, self.rule, self.pending = seq, rule, pending
        self.max_new = max_new
        self.drafter = None if sampling else drafter
        self.extra = extra or []
        self.sampling = sampling
        self.out: list[int] = []
        self.logprob = 0.0
        self.done = False
        self.result: Completion | None = None
        self.stats = DraftStats()
        #: most draft tokens per step; a busy server lowers it (a full batch gains little
        #: from drafts and every row is padded to the longest feed)
        self.draft_cap = 1 << 30
        self.prompt_len = len(prompt)
        if len(prompt) + 1 > seq.shape.block_size:
            prompt = prompt[len(prompt) + 1 - seq.shape.block_size :]
        self.prompt_len = len(prompt)
        self._feed = seq.reuse(prompt)
        self._draft: list[int] = []
        self._free = False  # the draft is a kept continuation (see _next_feed)
        if not self._feed:  # the whole prompt was cached: choose from its logits now
            self._walk([seq.last_logits])

    def rows(self) -> list[tuple[Sequence, list[int]]]:
        return [] if self.done else [(self.seq, self._feed)]

    def cancel(self) -> None:
        self.done, self.result = True, None

    def _choose(self, logits: np.ndarray) -> tuple[int, float] | None:
        lp = self.rule.logprobs(logits, self.pending)
        if self.pending:
            # while the typed tail is spelled, the step's distribution is renormalised over
            # the tokens that spell it: the completion's probability is given what was typed
            finite = lp[np.isfinite(lp)]
            if finite.size:
                lp = lp - np.logaddexp.reduce(finite)
        if self.sampling is None:
            tok = int(np.argmax(lp))
            return None if lp[tok] == -np.inf else (tok, float(lp[tok]))
        s = self.sampling
        k = min(s.top_k, int(np.isfinite(lp).sum()))
        if k == 0:
            return None
        top = np.argpartition(-lp, k - 1)[:k]
        w = np.exp((lp[top] - lp[top].max()) / max(s.temperature, 1e-6))
        tok = int(s.rng.choice(top, p=w / w.sum()))
        return tok, float(lp[tok])

    def advance(self, logits: list[np.ndarray]) -> None:
        rows = logits[0]
        self.stats.steps += 1
        if len(self.seq) == self.prompt_len:
            self.seq.save_prompt_end()  # the next keystroke with this prompt starts here
        start = len(self._feed) - 1 - len(self._draft)
        self._walk(list(rows[start:]))

    def _walk(self, rows: list[np.ndarray]) -> None:
        """Choose along ``rows`` (after the last chosen token, then after each draft token);
        while the next feed is a kept continuation of the sequence, go on without a step."""
        while rows is not None and not self.done:
            rows = self._walk_rows(rows)

    def _walk_rows(self, rows: list[np.ndarray]) -> list[np.ndarray] | None:
        draft = self._draft
        for i, row in enumerate(rows):
            got = self._choose(row)
            if got is None:
                return self._finish(None)
            tok, lp = got
            if i < len(draft) and tok == draft[i] and tok not in self.rule.stop:
                if not self._free:
                    self.stats.accepted += 1
                self._take(tok, lp)
                if len(self.out) >= self.max_new:
                    return self._finish(None)
                continue
            # the draft ends here: forget the cache of the draft tokens not taken
            self.seq.truncate(len(self.seq) - (len(draft) - i), row)
            if tok in self.rule.stop:
                self.logprob += lp
                return self._finish(Completion(list(self.out), self.logprob))
            self._take(tok, lp)
            if len(self.out) >= self.max_new or self.seq.room() < 1:
                return self._finish(None)
            self._next_feed(tok)
            return self.seq.replay(self._feed) if self._free else None
        return None

    def _take(self, tok: int, lp: float) -> None:
        self.out.append(tok)
        self.logprob += lp
        self.pending = self.rule.advance(self.pending, tok)

    def _next_feed(self, tok: int) -> None:
        room = min(self.seq.room() - 1, self.max_new - len(self.out))
        # the sequence still holds what followed ``tok`` last time (the previous keystroke's
        # completion): that is a draft whose check costs nothing, whatever the batch
        free = self.seq.known([tok, *self.seq.kept[1 : room + 1]])
        if free:
            self._free = True
            self._feed = self.seq.kept[:free]
            self._draft = self._feed[1:]
            self.stats.replayed += free
            return
        self._free = False
        room = min(room, self.draft_cap)
        draft: list[int] = []
        if self.drafter is not None and room > 0:
            draft = self.drafter.draft([*self.seq.ids, tok], self.extra, room)
        self.stats.drafted += len(draft)
        self._draft = draft
        self._feed = [tok, *draft]

    def _finish(self, result: Completion | None) -> None:
        self.done, self.result = True, result
        self._draft = []


class BeamJob:
    """Beam search: the ``beams`` most probable completions, each ending at a stop id."""

    def __init__(
        self,
        seq: Sequence,
        prompt: list[int],
        rule: TokenRule,
        pending: bytes = b"",
        max_new: int = 24,
        beams: int = 4,
    ) -> None:
        self.rule, self.max_new, self.width = rule, max_new, beams
        self.base = seq
        self.prompt_len = len(prompt)
        self.finished: list[Completion] = []
        self.done = False
        self.stats = DraftStats()
        # live beams: (sequence, ids out, logprob, pending, id to feed)
        self.live: list[tuple[Sequence, list[int], float, bytes, list[int]]] = []
        feed = seq.reuse(prompt)
        self._prompt_feed = feed
        if not feed:
            self._expand([(seq, [], 0.0, pending)], [seq.last_logits])
        else:
            self.live = [(seq, [], 0.0, pending, feed)]

    @property
    def result(self) -> list[Completion]:
        return sorted(self.finished, key=lambda c: -c.logprob)[: self.width]

    def rows(self) -> list[tuple[Sequence, list[int]]]:
        return [] if self.done else [(s, feed) for s, _, _, _, feed in self.live]

    def cancel(self) -> None:
        self.done, self.finished = True, []

    def advance(self, logits: list[np.ndarray]) -> None:
        self.stats.steps += 1
        if self._prompt_feed and len(self.base) == self.prompt_len:
            self.base.save_prompt_end()
            self._prompt_feed = []
        self._expand([b[:4] for b in self.live], [rows[-1] for rows in logits])

    def _expand(self, beams, last_rows) -> None:
        cands = []
        for (seq, out, score, pending), row in zip(beams, last_rows, strict=True):
            lp = self.rule.logprobs(row, pending)
            k = min(self.width, int(np.isfinite(lp).sum()))
            for tok in np.argpartition(-lp, k - 1)[:k] if k else []:
                cands.append((score + float(lp[tok]), int(tok), seq, out, pending))
        cands.sort(key=lambda c: -c[0])
        worst = min((c.logprob for c in self.finished), default=-np.inf)
        live, used = [], set()
        for score, tok, seq, out, pending in cands:
            if len(self.finished) >= self.width and score <= worst:
                break  # log-probabilities only fall: nothing left can enter the top
            if tok in self.rule.stop:
                self.finished.append(Completion(out, score))
                continue
            if len(live) >= self.width or len(out) + 1 >= self.max_new:
                continue
            # the first child of a sequence continues it; the others copy its cache
            child = seq if id(seq) not in used else seq.fork()
            used.add(id(seq))
            if child.room() < 2:
                continue
            live.append((child, [*out, tok], score, self.rule.advance(pending, tok), [tok]))
        self.live = live
        if not live or (len(self.finished) >= self.width and live[0][2] <= worst):
            self.done = True
