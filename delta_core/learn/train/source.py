"""The first three stages of ``delta-train``: memory -> sessions -> tokenizer -> token dataset.

They belong to the tokenizer and dataset pipeline (:mod:`delta_core.learn.dataset_build`); this
module only decides what to call, so the training side does not depend on how extraction and
tokenization are done. The active tokenizer is reused when there is one (a new tokenizer
means a new vocabulary, and no earlier model could be compared with the new one); otherwise,
or when asked, one is trained on the filtered history first. The dataset is rebuilt every
time, into ``datasets/delta-train``, so it holds the whole history up to now.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from delta_core.context import DeltaContext

DATASET_NAME = "delta-train"


class TrainPipelineError(RuntimeError):
    """``delta-train`` cannot go on; the message is one line a user can act on."""


@dataclass
class PreparedData:
    """What the first stages leave for the trainer: the token dataset and its tokenizer."""

    dataset_dir: Path
    tokenizer_dir: Path | None = None


# (labels...) -> context manager yielding one ``advance(n)`` callable per label
ProgressFactory = Callable[..., contextlib.AbstractContextManager[list[Callable[[int], None]]]]


@contextlib.contextmanager
def _no_progress(*labels: str) -> Iterator[list[Callable[[int], None]]]:
    yield [lambda n: None for _ in labels]


def build_from_memory(
    ctx: DeltaContext,
    *,
    retrain_tokenizer: bool = False,
    progress: ProgressFactory | None = None,
    say: Callable[[str], None] = print,
) -> PreparedData:
    """Train (or reuse) the tokenizer and write the dataset; return where they are."""
    from delta_core.learn.dataset_build import build_dataset, dataset_dir, train_on_history
    from delta_core.learn.datasets import DatasetError
    from delta_core.tokenizer.versions import (
        TokenizerError,
        active_version,
        list_versions,
        load_tokenizer,
    )

    bars = progress or _no_progress
    root = ctx.config.root
    try:
        version = None if retrain_tokenizer else active_version(root)
        if version is None:
            with bars("commands read (then the tokenizer trains)") as (advance,):
                info, _ = train_on_history(ctx, progress=advance)
            version = info.version
            say(f"trained tokenizer {version}")
        else:
            say(f"using tokenizer {version}")
        tok = load_tokenizer(version, context=ctx)
        with bars("commands read", "commands written") as (read, write):
            meta: dict[str, Any] = build_dataset(
                ctx,
                DATASET_NAME,
                tok=tok,
                replace=True,
                read_progress=read,
                write_progress=write,
            )
    except (DatasetError, TokenizerError) as exc:
        raise TrainPipelineError(" ".join(str(exc).split())) from None
    tokens = {k: v.get("tokens") for k, v in meta.get("splits", {}).items()}
    say(
        f"dataset {DATASET_NAME}: {tokens.get('train')} training and {tokens.get('val')} validation tokens"
    )
    tok_dir = next((i.directory for i in list_versions(root) if i.version == version), None)
    return PreparedData(dataset_dir(ctx, DATASET_NAME), tok_dir)
