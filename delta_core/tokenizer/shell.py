"""The shell tokenizer: escaping, the shell pre-tokenizer and a subword model, fast in batches.

A command is encoded as the concatenation, word by word (split on spaces), of the subword
model's ids for each unit of :mod:`delta_core.tokenizer.pretokenizer`. Because no unit crosses a space,
the ids of a word do not depend on its neighbours and are memoised: a history repeats its
words (``git``, ``--force``, ``/usr/local``) far more than its lines, so after the first
few thousand commands most words cost one dictionary lookup, and the pre-tokenizer's
regular expression and the subword model only see words never seen before — in one batched
call (sentencepiece's batch encode is multithreaded C++). The memo is only a cache: the
result is exactly the same with or without it, so encoding is deterministic.

Every command is encoded as ``" " + command`` (each word, the first included, carries the
space in front of it), so ``git`` is one token whether it starts the line or follows ``|``
or ``sudo``; :meth:`ShellTokenizer.decode` takes that marker space off again. Characters
sentencepiece cannot carry are escaped first (:mod:`delta_core.tokenizer.lossless`).

A subword *backend* (the sentencepiece plugin, or any other) supplies the model itself; see
:class:`SubwordBackend`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, Protocol

from delta_core.tokenizer.lossless import escape_batch, unescape
from delta_core.tokenizer.pretokenizer import word_units

#: Words longer than this are encoded every time instead of being remembered.
MAX_CACHED_WORD = 200
#: Remembered words before the memo starts afresh (bounds its memory).
CACHE_WORDS = 300_000
#: Commands encoded per step of a batch (bounds the memory of a big batch).
CHUNK = 65_536


class SubwordBackend(Protocol):
    """A trained subword model, as the shell tokenizer uses it (ids are ``int``)."""

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text, encoded on its own (no escaping, no pre-tokenization)."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; reserved ids decode to nothing."""
        ...

    def size(self) -> int: ...

    def piece(self, token_id: int) -> str: ...

    def piece_id(self, piece: str) -> int | None:
        """The id of a piece, or None when it is not in the vocabulary."""
        ...

    def is_byte(self, token_id: int) -> bool: ...

    def is_special(self, token_id: int) -> bool:
        """Control and padding ids: they never come out of encoding text."""
        ...


class ShellTokenizer:
    """Lossless command-line tokenizer: ``decode(encode(x)) == x`` for every ``str``.

    ``special_ids`` maps the names of reserved symbols (``pad``, ``bos``, ``eos``, ``cmd``,
    ``cwd``, ``exit`` …) to ids. ``version`` names the trained tokenizer directory.
    """

    def __init__(
        self,
        backend: SubwordBackend,
        special_ids: dict[str, int],
        *,
        version: str = "",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.special_ids = dict(special_ids)
        self.version = version
        self.config = dict(config or {})
        self.vocab_size = backend.size()
        # word -> ids of " " + word: the memo of the encode path
        self._words: dict[str, tuple[int, ...]] = {}

    # --- encoding -----------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """The ids of one command line."""
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """The ids of each command line (the fast path: use it for many commands)."""
        texts = texts if isinstance(texts, list) else list(texts)
        out: list[list[int]] = []
        for start in range(0, len(texts), CHUNK):
            out.extend(self._encode_chunk(escape_batch(texts[start : start + CHUNK])))
        return out

    def _encode_chunk(self, texts: list[str]) -> list[list[int]]:
        get = self._words.__getitem__
        try:
            # The hot path: every word already known, joined in C by chain/map.
            return [list(chain.from_iterable(map(get, t.split(" ")))) for t in texts]
        except KeyError:
            pass
        split = [t.split(" ") for t in texts]
        uncached = self._learn_words(split)
        get = self._words.__getitem__
        if not uncached:
            return [list(chain.from_iterable(map(get, words))) for words in split]
        words_ = self._words

        def lookup(w: str) -> tuple[int, ...]:
            found = words_.get(w)
            return uncached[w] if found is None else found

        return [list(chain.from_iterable(map(lookup, words))) for words in split]

    def _learn_words(self, split: list[list[str]]) -> dict[str, tuple[int, ...]]:
        """Encode every word not yet remembered, in one backend call, and remember it.

        Returns the ids of the words too long to remember (needed for this batch only).
        """
        words = self._words
        if len(words) > CACHE_WORDS:
            words.clear()
        todo = list({w: None for ws in split for w in ws if w not in words})
        unit_lists = [word_units(w, True) for w in todo]
        # Units repeat across words (a quote, `*`, `/`): each distinct one is encoded once.
        distinct = list({u: None for us in unit_lists for u in us})
        unit_ids = dict(zip(distinct, map(tuple, self.backend.encode_many(distinct)), strict=True))
        uncached: dict[str, tuple[int, ...]] = {}
        for w, us in zip(todo, unit_lists, strict=True):
            if len(us) == 1:
                ids = unit_ids[us[0]]
            else:
                ids = tuple(chain.from_iterable(map(unit_ids.__getitem__, us)))
            if len(w) <= MAX_CACHED_WORD:
                words[w] = ids
            else:
                uncached[w] = ids
        return uncached

    def encode_prefix(self, typed: str) -> tuple[list[int], str]:
        """Split what a user has typed so far into settled ids and a pending tail.

        The ids are exactly the first ids of *any* command that starts with ``typed``; the
        tail (the last, possibly unfinished word, with the marker space in front) is what
        the next generated tokens must spell. ``encode_prefix("git pu") == (encode("git"),
        " pu")``; for ``""`` the tail is ``" "``: every command starts with that space.
        """
        head, sep, last = typed.rpartition(" ")
        if not sep:
            return [], " " + typed
        return self.encode(head), " " + last

    # --- decoding -----------------------------------------------------------------------
    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; reserved ids (``<cmd>`` …) decode to nothing.

        The space the encoder puts in front of every command is taken off again. Raises ``ValueError`` (one line) for an id outside the vocabulary.
        """
        ids = [int(i) for i in ids]
        if ids:
            lo, hi = min(ids), max(ids)
            if lo < 0 or hi >= self.vocab_size:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"token id {bad} is outside the vocabulary (0..{self.vocab_size - 1})"
                )
        text = self.backend.decode(ids)
        # Every command is encoded as " " + command (so `git` at the start of a line and
        # after `|` or `sudo` is the same token); the marker space is not part of the text.
        return unescape(text[1:] if text.startswith(" ") else text)

    def spans(self, ids: Sequence[int]) -> list[tuple[list[int], str]]:
        """``ids`` grouped into displayable tokens with their text.

        Byte-fallback ids that together spell one character form one group; a reserved id
        shows as its name (``<cmd>``), since it has no text. The marker space in front of a
        command (see :meth:`decode`) is not shown.
        """
        groups: list[tuple[list[int], str]] = []
        run: list[int] = []
        at_start = True

        def add(group: list[int]) -> None:
            nonlocal at_start
            text = unescape(self.backend.decode(group))
            if at_start and text.startswith(" "):
                text = text[1:]
            at_start = False
            groups.append((group, text))

        for t in ids:
            t = int(t)
            if self.backend.is_byte(t):
                run.append(t)
                continue
            if run:
                add(run)
                run = []
            if self.backend.is_special(t):
                groups.append(([t], self.backend.piece(t)))
                at_start = True
            else:
                add([t])
        if run:
            add(run)
        return groups

    # --- vocabulary ---------------------------------------------------------------------
    def special(self, name: str) -> int:
        """The id of the reserved symbol ``name`` (``bos``, ``cmd`` …); KeyError if unknown."""
        return self.special_ids[name]

    def piece(self, token_id: int) -> str:
        return self.backend.piece(token_id)

    def is_byte(self, token_id: int) -> bool:
        return self.backend.is_byte(token_id)

    def is_special(self, token_id: int) -> bool:
        return self.backend.is_special(token_id)

    def __repr__(self) -> str:
        return f"ShellTokenizer(version={self.version!r}, vocab_size={self.vocab_size})"
