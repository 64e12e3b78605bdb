"""The ``sentencepiece`` tokenizer: a BPE model trained on the units of the user's history.

Training input is not raw lines but the *units* of :mod:`delta_core.tokenizer.pretokenizer` with their
counts (sentencepiece's ``text<TAB>count`` input), so no learned piece crosses an operator,
a quote or a flag boundary; operators and quotes are also user-defined symbols, so they are
always one token. Settings that would change text are off (identity normalisation, no dummy
prefix, whitespace kept) and byte fallback is on, so every string round-trips.

BPE rather than unigram: trained on units it gives fewer tokens per command (on NL2Bash and
tldr, see ``benchmarks/tokenizer.py``) and trains ten times faster.

Training is deterministic: units are fed in a fixed order (count, then text), nothing is
sampled or shuffled, one thread runs, and BPE breaks ties between merges by their text. The same history gives the same
``spm.model`` bytes, hence the same ids.

``sentencepiece`` is imported only inside :meth:`train` and :meth:`load`, and so are the
pre-tokenizer's counts and :class:`ShellTokenizer` (the shell's start imports every plugin).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delta_core.api import hookimpl, private_dir, write_private

if TYPE_CHECKING:
    from delta_core.api import ShellTokenizer

MODEL_FILE = "spm.model"
SPACE_MARK = "\u2581"

# Fixed settings: each one is needed for lossless, shell-aware or reproducible training.
TRAIN_OPTIONS: dict[str, Any] = {
    "model_type": "bpe",
    "input_format": "tsv",  # "unit<TAB>count" lines
    "normalization_rule_name": "identity",
    "remove_extra_whitespaces": False,
    "add_dummy_prefix": False,
    "split_by_whitespace": True,
    "split_by_unicode_script": False,  # the pre-tokenizer decides where pieces may not cross
    "split_by_number": False,
    "split_digits": False,
    "allow_whitespace_only_pieces": False,
    "byte_fallback": True,
    "character_coverage": 0.9995,
    "max_sentencepiece_length": 16,
    "num_threads": 1,
    "shuffle_input_sentence": False,
    "input_sentence_size": 0,
    "hard_vocab_limit": False,  # a short history yields a smaller vocabulary, not an error
    "pad_id": 0,
    "unk_id": 1,
    "bos_id": 2,
    "eos_id": 3,
    "pad_piece": "<pad>",
    "unk_piece": "<unk>",
    "bos_piece": "<s>",
    "eos_piece": "</s>",
    "minloglevel": 2,
}

_SPECIAL_NAMES = {"<pad>": "pad", "<unk>": "unk", "<s>": "bos", "</s>": "eos"}
_TOO_SMALL = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")


class SentencePieceBackend:
    """A loaded sentencepiece model as a :class:`~delta_core.tokenizer.shell.SubwordBackend`."""

    def __init__(self, processor: Any) -> None:
        self.sp = processor
        n = processor.get_piece_size()
        self._byte = [processor.is_byte(i) for i in range(n)]
        self._special = [processor.is_control(i) for i in range(n)]

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(texts)

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode(list(ids))

    def size(self) -> int:
        return len(self._byte)

    def piece(self, token_id: int) -> str:
        return self.sp.id_to_piece(int(token_id))

    def piece_id(self, piece: str) -> int | None:
        i = self.sp.piece_to_id(piece)
        return None if i == self.sp.unk_id() and piece != self.sp.id_to_piece(i) else i

    def is_byte(self, token_id: int) -> bool:
        return self._byte[token_id]

    def is_special(self, token_id: int) -> bool:
        return self._special[token_id]

    def special_ids(self) -> dict[str, int]:
        """Names of the reserved ids: ``pad``/``unk``/``bos``/``eos`` and ``<name>`` controls."""
        out = {"unk": self.sp.unk_id()}
        for i, special in enumerate(self._special):
            if special:
                p = self.sp.id_to_piece(i)
                out[_SPECIAL_NAMES.get(p, p.strip("<>"))] = i
        return out


class SentencePieceTokenizer:
    """The default tokenizer plugin (``tokenizer.name = "sentencepiece"``)."""

    name = "sentencepiece"

    def train(
        self,
        texts: Iterable[str],
        out_dir: Path,
        vocab_size: int,
        *,
        control_symbols: Sequence[str] = (),
        **options: Any,
    ) -> Path:
        """Train on the units of ``texts``; write ``out_dir/spm.model`` and return ``out_dir``.

        ``options`` override :data:`TRAIN_OPTIONS` (for experiments; the defaults are the
        ones that keep the tokenizer lossless and reproducible). Raises ``ValueError`` with
        one line when there is nothing to train on or the vocabulary cannot fit.
        """
        import sentencepiece as spm

        from delta_core.api import ATOMIC_UNITS, sorted_counts, unit_counts

        counts = unit_counts(texts)
        if not counts:
            raise ValueError("nothing to train a tokenizer on: the history is empty")
        lines = [f"{unit}\t{n}" for unit, n in sorted_counts(counts)]
        user_symbols = [*ATOMIC_UNITS, *(SPACE_MARK + u for u in ATOMIC_UNITS)]
        settings = {**TRAIN_OPTIONS, **options}
        buf = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=buf,
                vocab_size=int(vocab_size),
                control_symbols=list(control_symbols),
                user_defined_symbols=user_symbols,
                **settings,
            )
        except RuntimeError as exc:
            m = _TOO_SMALL.search(str(exc))
            if m:
                raise ValueError(
                    f"a vocabulary of {m.group(1)} is too small for this history "
                    f"(it needs at least {m.group(2)}); use a larger --vocab-size"
                ) from None
            raise ValueError(f"sentencepiece could not train: {str(exc).strip()}") from None
        private_dir(Path(out_dir))
        write_private(Path(out_dir) / MODEL_FILE, buf.getvalue())
        return Path(out_dir)

    def load(self, directory: Path) -> ShellTokenizer:
        """The tokenizer in ``directory`` (its ``spm.model``), ready to encode and decode."""
        import sentencepiece as spm

        from delta_core.api import ShellTokenizer

        path = Path(directory) / MODEL_FILE
        try:
            sp = spm.SentencePieceProcessor(model_proto=path.read_bytes())
        except OSError as exc:
            raise ValueError(f"cannot read tokenizer model {path}: {exc.strerror}") from None
        except RuntimeError as exc:
            raise ValueError(f"{path} is not a sentencepiece model ({exc})") from None
        backend = SentencePieceBackend(sp)
        return ShellTokenizer(backend, backend.special_ids())


@hookimpl
def delta_register_tokenizers(register):
    register(SentencePieceTokenizer())
