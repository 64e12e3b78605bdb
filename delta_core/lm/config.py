"""The shape of a Delta language model, by name, without importing torch.

The registry, the CLI and the trainers read and write these configs; only
:mod:`delta_core.lm.gpt` builds the network from one. Sizes are chosen for the hardware a user
is likely to have: ``tiny`` for tests, ``small`` for a laptop CPU (the default), ``base`` for
a team history on a GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class GPTConfig:
    """A decoder-only transformer: pre-norm blocks, causal self-attention, tied embeddings."""

    vocab_size: int = 4096
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = False

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if self.vocab_size < 2 or self.block_size < 1:
            raise ValueError("vocab_size must be >= 2 and block_size >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPTConfig:
        """Build from a dict, ignoring keys a newer Delta may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> GPTConfig:
        return GPTConfig(**{**asdict(self), **changes})

    def param_count(self) -> int:
        """Parameters, counting the tied embedding once (the same number ``GPT`` reports)."""
        d, L = self.n_embd, self.n_layer
        b = 1 if self.bias else 0
        per_block = (
            2 * d * (1 + b)  # two layer norms
            + d * 3 * d
            + 3 * d * b  # qkv projection
            + d * d
            + d * b  # attention output
            + d * 4 * d
            + 4 * d * b  # mlp up
            + 4 * d * d
            + d * b  # mlp down
        )
        return self.vocab_size * d + self.block_size * d + L * per_block + d * (1 + b)

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward), as in the PaLM paper's appendix B.

        ``6 N`` for the matmuls against the weights (position embeddings excluded, they are a
        lookup) plus ``12 L T d`` for attention scores and their weighted sum.
        """
        t = seq_len or self.block_size
        n = self.param_count() - self.block_size * self.n_embd
        return 6.0 * n + 12.0 * self.n_layer * self.n_embd * t


# name -> shape and the optimiser settings that suit it. Vocabulary size comes from the
# tokenizer, so the embedding share of the parameter count depends on it (4096 by default).
SIZES: dict[str, dict[str, Any]] = {
    # ~0.9M parameters at a 4096 vocabulary: fast enough for tests on two CPU cores.
    "tiny": {"n_layer": 2, "n_head": 2, "n_embd": 128, "block_size": 128, "lr": 2e-3},
    # ~12M: trains on a laptop CPU in minutes, the default.
    "small": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256, "lr": 1e-3},
    # ~88M: a team-scale history on a GPU; head size 64 keeps tensor cores busy.
    "base": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 512, "lr": 6e-4},
}


def size_names() -> list[str]:
    return list(SIZES)


def config_for_size(name: str, vocab_size: int, **overrides: Any) -> GPTConfig:
    """The :class:`GPTConfig` of size ``name`` for a vocabulary; raise ``ValueError`` if unknown."""
    if name not in SIZES:
        raise ValueError(f"unknown model size {name!r}; choose one of {', '.join(SIZES)}")
    shape = {k: v for k, v in SIZES[name].items() if k != "lr"}
    shape.update({k: v for k, v in overrides.items() if v is not None})
    return GPTConfig(vocab_size=vocab_size, **shape)


def default_lr(name: str) -> float:
    return float(SIZES.get(name, SIZES["small"])["lr"])
