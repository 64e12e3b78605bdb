"""A model-free embedder: hashed word and character-trigram features, signed, normalised.

It captures spelling, not meaning, so it is no substitute for the MiniLM embedder; it exists
for machines without torch (``search.embedder = "hashing"``) and as a fast, deterministic
embedder for exercising the index machinery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from delta_core.api import hookimpl

if TYPE_CHECKING:
    import numpy as np


def _slot(feature: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(
        hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )
    return h % dim, 1.0 if (h >> 63) & 1 else -1.0


class HashingEmbedder:
    name = "hashing"
    dim = 256

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # loaded with the plugin manager, so numpy (in lexical too) stays off start-up
        import numpy as np

        from delta_core.api import stemmed_words

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            feats = [f"w:{w}" for w in stemmed_words(text)]
            low = f" {text.lower()} "
            feats += [f"c:{low[j : j + 3]}" for j in range(len(low) - 2)]
            for f in feats:
                j, sign = _slot(f, self.dim)
                out[i, j] += sign
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out


@hookimpl
def delta_register_embedders(register):
    register(HashingEmbedder())
