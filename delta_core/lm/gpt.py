"""The Delta language model: a small decoder-only transformer over token ids (imports torch).

nanoGPT's shape: learned positions, pre-norm blocks, causal scaled-dot-product attention
(flash kernels on GPU), a 4x GELU MLP, and the output head tied to the token embedding.
``forward`` also takes and returns per-layer key/value caches, so an inference engine can feed
one new token at a time; training never uses them.

Targets equal to :data:`IGNORE_INDEX` (padding) do not count in the loss.
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from delta_core.lm.config import GPTConfig

IGNORE_INDEX = -1

# One (keys, values) pair per layer, each of shape (batch, n_head, past_len, head_dim).
KVCache = tuple[tuple[torch.Tensor, torch.Tensor], ...]


class ModelOutput(NamedTuple):
    logits: torch.Tensor
    loss: torch.Tensor | None
    past_key_values: KVCache | None


class LayerNorm(nn.Module):
    """LayerNorm whose bias is optional (GPT without biases trains as well and a bit faster)."""

    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        hd = C // self.n_head
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        past_len = 0
        if past is not None:
            past_len = past[0].size(2)
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        drop = self.dropout if self.training else 0.0
        if past_len == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        elif T == 1:
            # a single new token may look at every cached position: no mask needed
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:
            mask = torch.ones(T, past_len + T, dtype=torch.bool, device=x.device)
            mask = mask.tril(diagonal=past_len)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, config.bias)
        self.mlp = MLP(config)

    def forward(self, x, past=None):
        a, present = self.attn(self.ln_1(x), past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class GPT(nn.Module):
    """``GPT(GPTConfig(...))``; ``forward(idx, targets=None, past_key_values=None, use_cache=False)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = LayerNorm(config.n_embd, config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: fewer parameters, better small models
        self.apply(self._init_weights)
        # residual projections scaled down so the residual stream's variance stays ~1 (GPT-2)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Parameters, the tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
    ) -> ModelOutput:
        """Logits for every position of ``idx`` (batch, time) of token ids.

        ``targets`` (same shape, :data:`IGNORE_INDEX` where nothing is to be predicted) gives
        the mean cross-entropy over the counted positions. ``past_key_values`` continues a
        sequence whose earlier tokens were already fed; with ``use_cache`` the updated caches
        come back for the next call.
        """
        T = idx.size(1)
        past_len = 0 if past_key_values is None else past_key_values[0][0].size(2)
        if past_len + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past_len + T} tokens is longer than block_size "
                f"{self.config.block_size}"
            )
        pos = torch.arange(past_len, past_len + T, dtype=torch.long, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        presents = []
        for i, block in enumerate(self.h):
            x, present = block(x, None if past_key_values is None else past_key_values[i])
            if use_cache:
                presents.append(present)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            flat = targets.reshape(-1)
            total = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(),
                flat,
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            # a window made only of padding counts nothing instead of producing NaN
            loss = total / (flat != IGNORE_INDEX).sum().clamp(min=1)
        return ModelOutput(logits, loss, tuple(presents) if use_cache else None)

    def configure_optimizer(
        self,
        weight_decay: float,
        learning_rate: float,
        betas: tuple[float, float],
        device_type: str,
    ) -> torch.optim.AdamW:
        """AdamW with decay on matrices only (not norms, biases); fused kernels on CUDA."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        extra = {}
        if device_type == "cuda" and "fused" in inspect.signature(torch.optim.AdamW).parameters:
            extra["fused"] = True
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **extra)
