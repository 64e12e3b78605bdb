"""The kinds of component a plugin can add, as typed protocols and the values they exchange.

A plugin registers objects that satisfy these protocols through the hooks in
:mod:`delta_core.plugin.hookspecs`. Every component has a ``name``: the name a user types to choose
or switch off that component (``collectors.disabled = ["tmux"]``, ``--trainer local``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from delta_core.records.record import Record

Action = Literal["keep", "redact", "drop"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a privacy filter acted: which rule matched where in the command."""

    filter: str
    rule: str
    start: int = 0
    end: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A privacy filter's decision on one command.

    ``keep`` leaves it alone; ``redact`` replaces only the secret parts and gives the new
    ``command``; ``drop`` means the command must not be stored at all.
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

    def load(self, directory: Path) -> Any:
        """Load a trained tokenizer (an object with ``encode``/``decode``)."""
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


@runtime_checkable
class Suggester(Protocol):
    """Proposes commands that extend what was typed (or the next command on an empty prompt)."""

    name: str

    def suggest(self, query: SuggestQuery) -> Sequence[Suggestion]: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to fixed-size vectors so that history can be searched by meaning."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Any:
        """A float32 array of shape ``(len(texts), dim)``, rows L2-normalised."""
        ...
