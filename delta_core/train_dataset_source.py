"""The first three stages of ``delta-train``: memory -> sessions -> tokenizer -> token dataset.

They belong to the tokenizer and dataset pipeline; this module only calls it, so the training
side does not depend on how extraction and tokenization are done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from delta_core.context import DeltaContext
    from delta_core.train_pipeline import PreparedData


def build_from_memory(ctx: DeltaContext) -> PreparedData:
    from delta_core.train_pipeline import TrainPipelineError

    raise TrainPipelineError(
        "building a dataset from the memory is not available yet; pass --dataset DIR"
    )
