"""The kinds of component a plugin can add, as typed protocols and the values they exchange.

A plugin registers objects that satisfy these protocols through the hooks in
:mod:`delta_core.plugin.hookspecs`. Every component has a ``name``: the name a user types to choose
or switch off that component (``collectors.disabled = ["tmux"]``, ``--trainer local``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

from delta_core.records.record import Record

if TYPE_CHECKING:  # the engine's tokenizer, which a tokenizer plugin returns (an annotation only)
    from delta_core.tokenizer.shell import ShellTokenizer

Action = Literal["keep", "redact", "drop"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a privacy filter acted: which rule matched where in the command."""

    filter: str
    rule: str
    start: int = 0
    end: int = 0
    detail: str = ""


class Verdict(NamedTuple):
    """A privacy filter's decision on one command.

    ``keep`` leaves it alone; ``redact`` replaces only the secret parts and gives the new
    ``command``; ``drop`` means the command must not be stored at all. A named tuple, not a
    frozen dataclass: every filter returns one for every distinct command an import reads,
    and it is made in a third of the time (0.33 against 0.98 us, `python3 -m timeit`).
    """

    action: Action
    command: str
    findings: tuple[Finding, ...] = ()

    @classmethod
    def keep(cls, command: str) -> Verdict:
        return cls("keep", command)


@runtime_checkable
class Collector(Protocol):
    """Adds context fields (``extra``) to a record as the command starts.

    Runs on the prompt path: it must be cheap (no subprocess) and return quickly.
    """

    name: str

    def collect(self, cwd: str, env: Mapping[str, str]) -> Mapping[str, str]: ...


@runtime_checkable
class PrivacyFilter(Protocol):
    """Decides whether a command may be stored, and in which form."""

    name: str

    def check(self, command: str, cwd: str) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A line of an input history that could not be read; it is reported and skipped."""

    line: int
    message: str


@runtime_checkable
class Importer(Protocol):
    """Reads another shell's history into records."""

    name: str

    def default_paths(self, home: Path, env: Mapping[str, str]) -> Sequence[Path]:
        """Where this shell usually keeps its history, most likely first."""
        ...

    def read(self, path: Path) -> Iterator[Record | ImportProblem]:
        """Records in the order they were run; bad lines come out as problems, never raise."""
        ...


@runtime_checkable
class Tokenizer(Protocol):
    """Turns commands into token ids and back, losslessly; trained on the user's history."""

    name: str

    def train(self, texts: Iterable[str], out_dir: Path, vocab_size: int, **options: Any) -> Path:
        """Train on ``texts`` and write a loadable tokenizer directory; return it."""
        ...

    def load(self, directory: Path) -> ShellTokenizer:
        """Load a trained tokenizer directory as a :class:`~delta_core.api.ShellTokenizer`
        (wrap the trained subword model, a ``SubwordBackend``, in it): the engine calls
        ``encode``, ``encode_batch``, ``encode_prefix``, ``decode``, ``spans``, ``piece``,
        ``is_byte``, ``is_special``, ``special_ids``, ``vocab_size`` on what this returns."""
        ...


@dataclass(slots=True)
class TrainJob:
    """What a trainer is asked to do: train on a dataset, write a model directory."""

    dataset_dir: Path
    out_dir: Path
    model_size: str = "small"
    max_steps: int | None = None
    gpus: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Trainer(Protocol):
    """Runs the training loop somewhere (a container, the host) and leaves a checkpoint."""

    name: str

    def available(self) -> tuple[bool, str]:
        """Whether this trainer can run here, and if not, a one-line reason."""
        ...

    def train(self, job: TrainJob) -> Path:
        """Run ``job`` to completion and return the directory holding the trained weights."""
        ...


@dataclass(frozen=True, slots=True)
class SuggestQuery:
    """What the user has typed, and where: the input to every suggester."""

    prefix: str
    cwd: str = ""
    previous: tuple[str, ...] = ()
    session: str = ""
    limit: int = 5


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A full command line proposed for the prompt, with a score (higher is better)."""

    command: str
    score: float
    source: str


#: What a suggester is to the engine, declared by the suggester (never inferred from its name):
#: ``history`` ranks the memory's commands (answered in the shell's own thread); ``model``
#: completes with a learned model (run in a worker thread, mixed with history at the
#: model's fitted weight); ``extra`` is any other source, run within the same time budget and
#: merged with the rest by score.
SuggesterRole = Literal["history", "model", "extra"]


class RecentCommands:
    """The commands this shell session stored, newest last: one ring, owned by the engine.

    The suggest engine appends what the recorder stored (filtered or redacted; nothing for a
    dropped command) and every suggester reads the same ring, so history ranking, the model's
    context and the previous commands of a query never disagree or see unfiltered text.
    """

    __slots__ = ("_items", "limit", "version")

    def __init__(self, limit: int = 2000) -> None:
        self._items: list[Record] = []
        self.limit = limit
        #: Counts appends: a cheap key for "the context changed" (memoised completions).
        self.version = 0

    def append(self, rec: Record) -> None:
        self._items.append(rec)
        if len(self._items) > self.limit:
            del self._items[: len(self._items) - self.limit]
        self.version += 1

    def records(self) -> list[Record]:
        """A snapshot, oldest first (safe to keep while the shell appends)."""
        return list(self._items)

    def newest_first(self) -> Iterator[Record]:
        """The records, newest first (no copy: for the prompt path)."""
        return reversed(self._items)

    def commands(self, n: int | None = None) -> tuple[str, ...]:
        """The last ``n`` commands (all when ``n`` is None), oldest first."""
        items = self._items if n is None else self._items[-n:] if n > 0 else []
        return tuple(r.command for r in items)

    def __len__(self) -> int:
        return len(self._items)


@runtime_checkable
class Suggester(Protocol):
    """Proposes commands that extend what was typed (or the next command on an empty prompt).

    The engine (:class:`delta_core.suggest.live.SuggestEngine`) calls every method below, in
    this order: :meth:`attach` once, :meth:`refresh` once after it, then :meth:`suggest` per
    keystroke and :meth:`observe` after each stored command. A component that needs none of
    the optional steps can subclass :class:`BaseSuggester`, which implements them as no-ops.
    Scores are probabilities of the command given what was typed, so sources compare.
    """

    name: str
    role: SuggesterRole

    def attach(self, ctx: Any, recent: RecentCommands) -> None:
        """Bind to a Delta context (``ctx.store``, ``ctx.layout``, ``ctx.config``,
        ``ctx.components``) and to the engine's ring of recent commands; raise to be switched
        off for this session (the engine reports why, once)."""
        ...

    def refresh(self) -> None:
        """Pick up what changed outside the shell (a newly promoted model); must be cheap."""
        ...

    def observe(self, rec: Record) -> None:
        """A command was stored (as stored: filtered, redacted); it is already in the ring."""
        ...

    def weight(self, prefix: str = "") -> float:
        """The mixture weight of a ``model`` suggester's completions against history, read after
        each answer (a served model's version arrives with it); other roles return 1.0.
        ``prefix``: what is typed (a model is trusted apart on the empty prompt and once
        something is typed, :func:`delta_core.suggest.fit.fit_typed_weight`)."""
        ...

    def suggest(self, query: SuggestQuery) -> Sequence[Suggestion]:
        """Candidates for ``query``, best first; may be empty; must not block for long."""
        ...


class BaseSuggester:
    """Defaults for the optional steps of :class:`Suggester`: subclass and write ``suggest``."""

    name: str = "extra"
    role: SuggesterRole = "extra"

    def attach(self, ctx: Any, recent: RecentCommands) -> None:
        return None

    def refresh(self) -> None:
        return None

    def observe(self, rec: Record) -> None:
        return None

    def weight(self, prefix: str = "") -> float:
        return 1.0

    def suggest(self, query: SuggestQuery) -> Sequence[Suggestion]:
        return ()


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to fixed-size vectors so that history can be searched by meaning."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Any:
        """A float32 array of shape ``(len(texts), dim)``, rows L2-normalised."""
        ...


@runtime_checkable
class TokenEmbedder(Protocol):
    """An :class:`Embedder` that can also give one vector per token of its vocabulary.

    Optional. With it, ``delta search`` makes a new memory searchable by meaning at once:
    each command first gets the weighted mean of its tokens' vectors (a static embedding,
    thousands per second), and the full model replaces those vectors in the background
    (:mod:`delta_core.search.static`).
    """

    name: str
    dim: int
    #: changes whenever :meth:`token_vectors` would give other vectors (the cache is redone)
    token_table_version: str

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, without special tokens (the rows of :meth:`token_vectors`)."""
        ...

    @property
    def vocab_size(self) -> int:
        """How many token ids there are (``token_ids`` gives ids below it)."""
        ...

    def token_vectors(self, ids: Sequence[int]) -> Any:
        """A float32 array ``(len(ids), dim)``: each token embedded alone by the model."""
        ...
