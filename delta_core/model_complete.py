"""Model completions as text: the session context in the training format, the typed prefix
handled exactly, the answer decoded back to a command (imports torch through the decoder).

What was typed is split by the tokenizer into settled ids (every word before the last space)
and a pending tail (the last, maybe unfinished, word). The prompt is the session context in
the format training used (:func:`delta_core.training_format.format_context`) plus the
settled ids; the decoder must then spell the tail byte for byte before it may continue
(token healing by constraint). So a completion always extends exactly what was typed — and
it is checked once more before it is returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delta_core.lossless import escape
from delta_core.training_format import Turn, command_stop_ids, format_context

#: Tokens a completion may add after the typed text.
MAX_NEW = 24


def token_bytes(tok: Any) -> list[bytes | None]:
    """Each id's text as bytes (spaces as spaces); None for reserved and unknown ids."""
    unk = tok.special_ids.get("unk")
    out: list[bytes | None] = []
    for i in range(tok.vocab_size):
        if tok.is_special(i) or i == unk:
            out.append(None)
        elif tok.is_byte(i):
            out.append(bytes([int(tok.piece(i)[3:5], 16)]))
        else:
            out.append(tok.piece(i).replace("\u2581", " ").encode("utf-8"))
    return out


def load_tokenizer_dir(directory: Path, plugins: dict[str, Any]) -> Any:
    """The tokenizer saved in ``directory`` (a model's ``tokenizer/``), loaded by its plugin."""
    from delta_core.tokenizers import TokenizerError, read_config

    config = read_config(directory)
    plugin = plugins.get(config.get("name", ""))
    if plugin is None:
        raise TokenizerError(f"the tokenizer in {directory} needs plugin {config.get('name')!r}")
    tok = plugin.load(directory)
    tok.version = config.get("version", "")
    tok.config = config
    return tok


class ModelCompleter:
    """A model and its tokenizer, answering "what comes next" for a session and a prefix."""

    def __init__(self, model: Any, tok: Any, device: str = "cpu") -> None:
        from delta_core.decoding import ByteConstraint, GreedyDecoder

        self.tok = tok
        self.decoder = GreedyDecoder(model, device)
        self.constraint = ByteConstraint(token_bytes(tok))
        self.stop = command_stop_ids(tok)
        self.exit_id = tok.special_ids["exit"]
        self.budget = self.decoder.block_size - MAX_NEW
        self._anchor = 0  # first turn of the history in the prompt (moves in big steps)

    @classmethod
    def from_dir(cls, model_dir: Path | str, plugins: dict[str, Any], device: str = "cpu"):
        """Load ``models/<version>/`` (weights, config and the tokenizer copied with them)."""
        from delta_core.checkpoint import load_model

        model_dir = Path(model_dir)
        tok = load_tokenizer_dir(model_dir / "tokenizer", plugins)
        return cls(load_model(model_dir, device), tok, device)

    def prompt(self, history: Sequence[Turn], cwd: str, typed: str = "") -> list[int]:
        """The prompt ids; the window start moves by half a window at a time so consecutive
        prompts share a long prefix and the decoder's KV cache is reused."""
        if self._anchor > len(history):
            self._anchor = 0
        while True:
            ids = format_context(self.tok, history[self._anchor :], cwd, prefix=typed)
            left = len(history) - self._anchor
            if len(ids) <= self.budget or left == 0:
                break
            self._anchor += max(1, left // 2)
        if len(ids) > self.budget:
            ids = ids[-self.budget :]
        return ids

    def complete(self, history: Sequence[Turn], cwd: str, typed: str) -> tuple[str, float] | None:
        """The greedy completion of ``typed`` and its probability, or None."""
        _, tail = self.tok.encode_prefix(typed)
        ids = self.prompt(history, cwd, typed)
        out = self.decoder.complete(
            ids, self.constraint, escape(tail).encode("utf-8", "surrogatepass"), self.stop, MAX_NEW
        )
        if out is None:
            return None
        settled = self.tok.encode_prefix(typed)[0]
        text = self.tok.decode(settled + out.ids)
        if not text.startswith(typed) or text == typed or "\n" in text:
            return None
        return text, math.exp(out.logprob)

    def nll(self, history: Sequence[Turn], cwd: str, command: str) -> tuple[float, int]:
        """Negative log-likelihood of ``command`` (and its end) after the session, and tokens."""
        target = [*self.tok.encode(command), self.exit_id]
        return -self.decoder.score(self.prompt(history, cwd), target), len(target)
