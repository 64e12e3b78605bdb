"""The inference engine: decoding jobs run to completion on one backend, ids in and out.

Tokenization stays outside (nanochat's ``engine.py`` split): the engine is given prompt ids,
a :class:`~delta_core.inference.constraint.TokenRule` and the bytes still to be spelled, and
returns ids. It keeps one cached :class:`~delta_core.inference.cache.Sequence` per caller
key, so consecutive prompts of a shell (keystrokes) share their KV cache.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from delta_core.inference.cache import Sequence, forward_rows
from delta_core.inference.constraint import TokenRule, log_softmax
from delta_core.inference.decode import BeamJob, Completion, DraftStats, GreedyJob, Sampling
from delta_core.inference.speculative import PromptLookup

#: Cached sequences kept (one per shell); the least recently used goes first.
MAX_SEQUENCES = 64


class Engine:
    def __init__(self, backend, speculate: bool = True, drafter=None) -> None:
        self.backend = backend
        self.shape = backend.shape
        self.drafter = drafter if drafter is not None else (PromptLookup() if speculate else None)
        self.stats = DraftStats()
        self._seqs: OrderedDict[str, Sequence] = OrderedDict()

    def sequence(self, key: str = "") -> Sequence:
        """The cached sequence of ``key`` (created on first use)."""
        seq = self._seqs.pop(key, None)
        if seq is None:  # speculating engines also replay kept continuations
            seq = Sequence(self.shape, keep=self.drafter is not None)
        self._seqs[key] = seq
        while len(self._seqs) > MAX_SEQUENCES:
            self._seqs.popitem(last=False)
        return seq

    def run(self, job):
        """Step ``job`` until it is done; return its result."""
        while not job.done:
            job.advance(forward_rows(self.backend, job.rows()))
        self.stats.add(job.stats)
        return job.result

    def greedy_job(self, prompt, rule, pending=b"", max_new=24, key="", extra=None, speculate=True):
        drafter = self.drafter if speculate else None
        return GreedyJob(self.sequence(key), list(prompt), rule, pending, max_new, drafter, extra)

    def greedy(
        self,
        prompt: list[int],
        rule: TokenRule,
        pending: bytes = b"",
        max_new: int = 24,
        *,
        key: str = "",
        extra: list[list[int]] | None = None,
        speculate: bool = True,
    ) -> Completion | None:
        """The greedy completion (speculative when the engine has a drafter: same output)."""
        return self.run(self.greedy_job(prompt, rule, pending, max_new, key, extra, speculate))

    def sample(
        self,
        prompt: list[int],
        rule: TokenRule,
        pending: bytes = b"",
        max_new: int = 24,
        *,
        top_k: int = 8,
        temperature: float = 1.0,
        seed: int | None = None,
        key: str = "",
    ) -> Completion | None:
        """One completion sampled from the ``top_k`` most likely tokens at each step."""
        sampling = Sampling(top_k, temperature, np.random.default_rng(seed))
        job = GreedyJob(
            self.sequence(key), list(prompt), rule, pending, max_new, None, None, sampling
        )
        return self.run(job)

    def beam(
        self,
        prompt: list[int],
        rule: TokenRule,
        pending: bytes = b"",
        max_new: int = 24,
        *,
        beams: int = 4,
        key: str = "",
    ) -> list[Completion]:
        """The ``beams`` most probable completions, best first."""
        return self.run(BeamJob(self.sequence(key), list(prompt), rule, pending, max_new, beams))

    def score(self, prompt: list[int], target: list[int], key: str = "") -> float:
        """Total log-probability of ``target`` after ``prompt`` (for perplexity).

        A target that fits the block with some of the prompt is scored in one pass. A longer
        one (a pasted key, a 1 MB ``echo``) is scored in windows: each scores the next half
        block of target tokens after the block's other half of what precedes them, so the
        cache never holds more than the block and every token is scored once.
        """
        block = self.shape.block_size
        if not target:
            return 0.0
        if len(target) < block:
            keep = block - len(target)
            return self._score_piece(prompt[-keep:] or prompt[-1:], target, key)
        stream = [*prompt, *target]
        total, pos, step = 0.0, len(prompt), max(1, block // 2)
        while pos < len(stream):
            end = min(len(stream), pos + step)
            context = stream[max(0, pos - (block - (end - pos))) : pos]
            total += self._score_piece(context, stream[pos:end], key)
            pos = end
        return total

    def _score_piece(self, context: list[int], target: list[int], key: str) -> float:
        """Log-probability of ``target`` right after ``context`` (both fit the block)."""
        seq = self.sequence(key)
        feed = seq.reuse(context)
        if feed:
            forward_rows(self.backend, [(seq, feed)])
            seq.save_prompt_end()
        total = float(log_softmax(seq.last_logits)[target[0]])
        if len(target) > 1:
            rows = forward_rows(self.backend, [(seq, list(target[:-1]))])[0]
            for row, tok in zip(rows, target[1:], strict=True):
                total += float(log_softmax(row)[tok])
        return total
