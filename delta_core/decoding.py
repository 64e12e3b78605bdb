"""Greedy, constrained decoding over token ids with a KV cache (imports torch).

This engine knows nothing about text: it is given the prompt ids, a :class:`ByteConstraint`
(the bytes the first generated tokens must spell, and each token's bytes) and the stop ids.
It keeps the KV cache of the last prompt, so the next keystroke (the same prompt plus a few
ids) only feeds the new ids. A faster backend (ONNX Runtime, speculative decoding) can
replace :class:`GreedyDecoder` as long as it offers :meth:`GreedyDecoder.complete` and
:meth:`GreedyDecoder.score`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import torch


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

    def banned(self, stop_ids: set[int]) -> list[int]:
        """Reserved ids that are not stop ids: never generated."""
        return [i for i, b in enumerate(self.token_bytes) if b is None and i not in stop_ids]


@dataclass
class Completion:
    ids: list[int]
    logprob: float


class GreedyDecoder:
    """Greedy decoding for a :class:`~delta_core.model.GPT` in eval mode, on CPU or GPU."""

    def __init__(self, model: torch.nn.Module, device: str = "cpu") -> None:
        self.model = model
        self.device = device
        self.block_size = int(model.config.block_size)
        self._ids: list[int] = []
        self._past = None
        self._last_logits: torch.Tensor | None = None
        self._banned: torch.Tensor | None = None

    @torch.inference_mode()
    def _feed(self, ids: list[int]) -> torch.Tensor:
        """Log-probabilities after ``ids``, reusing the cache of the common prefix."""
        common = 0
        limit = min(len(ids), len(self._ids))
        while common < limit and ids[common] == self._ids[common]:
            common += 1
        if common == len(ids) and common == len(self._ids) and self._last_logits is not None:
            return self._last_logits
        if common == len(ids):
            common -= 1  # feed the last id again to get its logits
        past = None
        if common > 0 and self._past is not None:
            past = tuple((k[:, :, :common], v[:, :, :common]) for k, v in self._past)
        else:
            common = 0
        new = torch.tensor([ids[common:]], dtype=torch.long, device=self.device)
        out = self.model(new, past_key_values=past, use_cache=True)
        self._past = out.past_key_values
        self._ids = list(ids)
        self._last_logits = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        return self._last_logits

    def complete(
        self,
        prompt: list[int],
        constraint: ByteConstraint,
        pending: bytes,
        stop_ids: set[int],
        max_new: int = 24,
    ) -> Completion | None:
        """The greedy continuation of ``prompt`` that first spells ``pending``, up to a stop id.

        Returns None when nothing allowed can be generated or no stop id came within
        ``max_new`` tokens (an unfinished command is not worth showing).
        """
        if len(prompt) + max_new > self.block_size:
            prompt = prompt[len(prompt) + max_new - self.block_size :]
        ids = list(prompt)
        out: list[int] = []
        total = 0.0
        for _ in range(max_new):
            logp = self._feed(ids)
            if pending:
                allowed = constraint.allowed(pending)
                if not allowed:
                    return None
                sub = logp[allowed]
                j = int(torch.argmax(sub))
                tok, lp = allowed[j], float(sub[j])
            else:
                if self._banned is None:
                    self._banned = torch.tensor(constraint.banned(stop_ids), dtype=torch.long)
                logp = logp.clone()
                logp[self._banned] = float("-inf")
                tok = int(torch.argmax(logp))
                lp = float(logp[tok])
            total += lp
            if tok in stop_ids:
                return Completion(out, total)
            out.append(tok)
            ids.append(tok)
            b = constraint.token_bytes[tok] or b""
            pending = pending[len(b) :] if len(b) < len(pending) else b""
        return None

    @torch.inference_mode()
    def score(self, prompt: list[int], target: list[int]) -> float:
        """Total log-probability of ``target`` after ``prompt`` (for perplexity)."""
        keep = self.block_size - len(target)
        prompt = prompt[-keep:] if keep > 0 else prompt[-1:]
        logp = self._feed(prompt)
        total = float(logp[target[0]])
        if len(target) > 1:
            ids = torch.tensor([target[:-1]], dtype=torch.long, device=self.device)
            past = self._past
            out = self.model(ids, past_key_values=past, use_cache=False)
            lps = torch.log_softmax(out.logits[0].float(), dim=-1)
            total += float(lps[torch.arange(len(target) - 1), torch.tensor(target[1:])].sum())
        return total
