"""One inference step of a :class:`~delta_core.lm.gpt.GPT` as a plain tensor function (imports torch).

``StepGraph`` wraps a trained GPT (sharing its weights) and computes, for a batch of rows
that each continue their own cached sequence::

    logits, new_kv = step(input_ids, position_ids, attn_mask, past_k_0, past_v_0, past_k_1, ...)

- ``input_ids``, ``position_ids``: (batch, new) int64; positions are each row's true
  positions, so rows of different lengths share one padded batch (learned absolute
  position embeddings do not care where a key sits in the cache, only the mask does).
- ``attn_mask``: (batch, new, past + new) bool, True where a query may look.
- ``past_k_i``, ``past_v_i``: layer ``i``'s cached keys and values, (batch, n_head, past,
  head_dim) float32, possibly past = 0. One input per tensor: the caller passes views of its
  cache array, and nothing inside splits (copies) a stacked cache.
- ``new_kv``: the keys and values of the new tokens only, (n_layer, 2, batch, n_head, new,
  head_dim): the caller owns the caches and appends them, so nothing re-copies the past
  (attention scores the past and the new keys separately for the same reason).

It is the graph exported to ONNX and the PyTorch backend's forward, so both backends run
the same computation; a test checks it against ``GPT.forward``. Attention is written out
(matmul, masked softmax) rather than ``scaled_dot_product_attention`` with a mask, because
that exports to every ONNX opset and runtime the same way.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Added to masked attention scores: finite, so a fully masked padding row gives no NaN.
MASKED = -1e9
#: Bumped when the graph's computation or signature changes: older exports are redone.
GRAPH_VERSION = 3


class StepGraph(nn.Module):
    def __init__(self, gpt: nn.Module) -> None:
        super().__init__()
        self.gpt = gpt
        cfg = gpt.config
        self.n_head = cfg.n_head
        self.head_dim = cfg.n_embd // cfg.n_head

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        attn_mask: torch.Tensor,
        *past: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.gpt
        B, T = input_ids.shape
        H, hd = self.n_head, self.head_dim
        x = g.wte(input_ids) + g.wpe(position_ids)
        bias = torch.where(attn_mask, 0.0, MASKED).unsqueeze(1).to(x.dtype)  # (B,1,T,P+T)
        scale = 1.0 / math.sqrt(hd)
        new_kv = []
        for i, block in enumerate(g.h):
            attn = block.attn
            h = block.ln_1(x)
            q, k, v = attn.c_attn(h).split(attn.n_embd, dim=2)
            q = q.view(B, T, H, hd).transpose(1, 2)
            k = k.view(B, T, H, hd).transpose(1, 2)
            v = v.view(B, T, H, hd).transpose(1, 2)
            new_kv.append(torch.stack((k, v)))
            # scores against the past and the new keys separately: only the small score
            # tensor is concatenated, never the (large) cached keys and values
            past_k, past_v = past[2 * i], past[2 * i + 1]
            P = past_k.size(2)
            att = torch.cat(
                (torch.matmul(q, past_k.transpose(-2, -1)), torch.matmul(q, k.transpose(-2, -1))),
                dim=-1,
            )
            w = F.softmax(att * scale + bias, dim=-1)
            y = torch.matmul(w[..., :P], past_v) + torch.matmul(w[..., P:], v)
            y = y.transpose(1, 2).reshape(B, T, H * hd)
            x = x + attn.c_proj(y)
            x = x + block.mlp(block.ln_2(x))
        logits = g.lm_head(g.ln_f(x))
        return logits, torch.stack(new_kv)
