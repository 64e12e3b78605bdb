"""``delta-train`` as a library: history -> dataset -> trainer -> registered model.

Stages: extract the sessions of the memory, tokenize them, write a token dataset (all three
done by the dataset builder of the tokenizer pipeline, or skipped with an existing dataset
directory), run a trainer plugin (``docker`` by default, ``local`` on the host) into a run
directory under ``models/.runs/``, and register the result in ``models/<version>/``.
A run that fails or is interrupted keeps its directory, so ``delta-train --resume`` continues
it from its last checkpoint; a registered run's directory is removed (its checkpoint holds
optimizer state three times the size of the model). No torch here.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from delta_core.context import DeltaContext
from delta_core.learn.registry import ModelInfo, register_model
from delta_core.learn.train.source import PreparedData, TrainPipelineError
from delta_core.paths import private_dir, write_private
from delta_core.plugin.protocols import TrainJob

RUNS = ".runs"
JOB_FILE = "job.json"


@dataclass
class TrainRequest:
    trainer: str
    model_size: str
    max_steps: int | None = None
    gpus: int | None = None
    dataset: Path | None = None
    retrain_tokenizer: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def pick_trainer(ctx: DeltaContext, name: str) -> Any:
    """The trainer plugin ``name``, checked to be able to run here."""
    trainers = ctx.components.trainers
    if name not in trainers:
        known = ", ".join(sorted(trainers)) or "none"
        raise TrainPipelineError(f"no trainer named {name!r}; available: {known}")
    ok, reason = trainers[name].available()
    if not ok:
        other = "local" if name != "local" and "local" in trainers else None
        hint = f"; use --trainer {other} to train on this host" if other else ""
        raise TrainPipelineError(f"the {name} trainer cannot run: {reason}{hint}")
    return trainers[name]


def prepare_data(
    ctx: DeltaContext,
    request: TrainRequest,
    *,
    progress: Any = None,
    say: Callable[[str], None] = print,
) -> PreparedData:
    """The dataset to train on: the one asked for, or one built from the memory now."""
    if request.dataset is not None:
        meta = Path(request.dataset) / "meta.json"
        if not meta.is_file():
            raise TrainPipelineError(f"{request.dataset} is not a dataset: it has no meta.json")
        tok = json.loads(meta.read_text(encoding="utf-8")).get("tokenizer_dir")
        return PreparedData(Path(request.dataset), Path(tok) if tok else None)
    from delta_core.learn.train.source import build_from_memory

    return build_from_memory(
        ctx, retrain_tokenizer=request.retrain_tokenizer, progress=progress, say=say
    )


def _dataset_stamp(directory: Path) -> Any:
    """What identifies one build of a dataset (a rebuilt one must not feed a resumed run)."""
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [meta.get("tokenizer_version"), meta.get("created_ns"), meta.get("splits")]


def runs_dir(ctx: DeltaContext) -> Path:
    return ctx.layout.models / RUNS


def _new_run(ctx: DeltaContext, job: TrainJob, data: PreparedData) -> Path:
    run = runs_dir(ctx) / time.strftime("%Y%m%d-%H%M%S")
    n = 1
    while run.exists():
        n += 1
        run = run.with_name(f"{run.name.split('.')[0]}.{n}")
    private_dir(run)
    record = {
        "job": {**asdict(job), "dataset_dir": str(job.dataset_dir), "out_dir": str(run)},
        "tokenizer_dir": str(data.tokenizer_dir) if data.tokenizer_dir else None,
        "dataset_stamp": _dataset_stamp(data.dataset_dir),
    }
    write_private(run / JOB_FILE, json.dumps(record, indent=2))
    return run


def last_unfinished_run(ctx: DeltaContext) -> Path | None:
    runs = runs_dir(ctx)
    if not runs.is_dir():
        return None
    found = sorted(d for d in runs.iterdir() if (d / JOB_FILE).is_file())
    return found[-1] if found else None


def run_training(
    ctx: DeltaContext,
    request: TrainRequest,
    *,
    resume: bool = False,
    progress: Any = None,
    say: Callable[[str], None] = print,
) -> ModelInfo:
    """Run every stage and return the registered model."""
    trainer = pick_trainer(ctx, request.trainer)
    if resume:
        run = last_unfinished_run(ctx)
        if run is None:
            raise TrainPipelineError("there is no interrupted run to resume; run delta-train")
        record = json.loads((run / JOB_FILE).read_text(encoding="utf-8"))
        spec = record["job"]
        job = TrainJob(
            dataset_dir=Path(spec["dataset_dir"]),
            out_dir=run,
            model_size=spec["model_size"],
            max_steps=request.max_steps or spec["max_steps"],
            gpus=request.gpus if request.gpus is not None else spec["gpus"],
            options={**spec["options"], "resume": True},
        )
        tok = record.get("tokenizer_dir")
        data = PreparedData(job.dataset_dir, Path(tok) if tok else None)
        if _dataset_stamp(job.dataset_dir) != record.get("dataset_stamp"):
            raise TrainPipelineError(
                f"the dataset of run {run.name} was rebuilt or removed since it started; "
                f"start a new run (and delete {run} if it is of no use)"
            )
        say(f"resuming {run.name} with the {trainer.name} trainer")
    else:
        data = prepare_data(ctx, request, progress=progress, say=say)
        job = TrainJob(
            dataset_dir=data.dataset_dir,
            out_dir=Path(),
            model_size=request.model_size,
            max_steps=request.max_steps,
            gpus=request.gpus,
            options=dict(request.options),
        )
        run = _new_run(ctx, job, data)
        job.out_dir = run
        say(f"training a {job.model_size} model with the {trainer.name} trainer into {run}")
    try:
        out = Path(trainer.train(job))
    except Exception as exc:
        resumable = (run / "checkpoint.pt").is_file()
        if not resumable:
            shutil.rmtree(run, ignore_errors=True)
        hint = "; continue with `delta-train --resume`" if resumable else ""
        from delta_core import log

        text = log.plain(exc)
        raise TrainPipelineError(f"the {trainer.name} trainer failed: {text}{hint}") from exc
    info = register_model(
        ctx.layout,
        out,
        trainer=trainer.name,
        dataset_dir=data.dataset_dir,
        tokenizer_dir=data.tokenizer_dir,
    )
    shutil.rmtree(run, ignore_errors=True)
    return info
