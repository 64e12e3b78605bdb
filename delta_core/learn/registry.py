"""The model registry: every trained model under ``models/<version>/``, listed and described.

A registered model directory holds what serving and evaluation need, copied from the run that
trained it: ``model.pt`` (weights), ``config.json`` (model shape, training plan, dataset
stats), ``metrics.json`` (losses, tokens/s, MFU), ``dataset.json`` (the dataset's
``meta.json``), ``tokenizer/`` (a copy of the tokenizer it was trained with, when given) and
``model.json``, the manifest this module reads. Versions sort by time
(``20260126-143005-small``). Registration is atomic: a model directory is complete or absent.
Which model is served ("active") is decided later, by evaluation and promotion.
No torch here: listing models stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from delta_core.paths import FILE_MODE, Layout, private_dir, write_private

MANIFEST = "model.json"
RUN_FILES = ("model.pt", "config.json", "metrics.json")


class RegistryError(ValueError):
    """A model cannot be registered or found; the message is one line a user can act on."""


@dataclass
class ModelInfo:
    version: str
    path: Path
    created: str
    model_size: str
    params: int
    vocab_size: int
    tokenizer_version: str
    steps: int
    val_loss: float | None
    initial_val_loss: float | None
    trainer: str
    dataset: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data

    @classmethod
    def from_dir(cls, directory: Path) -> ModelInfo:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        data["path"] = directory
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _copy_private(src: Path, dst: Path) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 20)


def _copy_tree_private(src: Path, dst: Path) -> None:
    private_dir(dst)
    for item in sorted(src.iterdir()):
        if item.is_dir():
            _copy_tree_private(item, dst / item.name)
        elif item.is_file():
            _copy_private(item, dst / item.name)


def _new_version(models: Path, size: str, now: float) -> str:
    base = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{size}"
    version, n = base, 1
    while (models / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


def register_model(
    layout: Layout,
    run_dir: Path | str,
    *,
    trainer: str,
    dataset_dir: Path | str | None = None,
    tokenizer_dir: Path | str | None = None,
    now: float | None = None,
) -> ModelInfo:
    """Copy a finished run into ``models/<version>/`` and return its description."""
    run_dir = Path(run_dir)
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise RegistryError(
            f"{run_dir} is not a finished training run: {', '.join(missing)} missing"
        )
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    now = time.time() if now is None else now
    models = private_dir(layout.models)
    version = _new_version(models, config["train"]["model_size"], now)
    staging = models / f".staging-{os.getpid()}-{version}"
    if staging.exists():
        shutil.rmtree(staging)
    private_dir(staging)
    try:
        for name in RUN_FILES:
            _copy_private(run_dir / name, staging / name)
        if dataset_dir is not None and (Path(dataset_dir) / "meta.json").is_file():
            _copy_private(Path(dataset_dir) / "meta.json", staging / "dataset.json")
        if tokenizer_dir is not None:
            _copy_tree_private(Path(tokenizer_dir), staging / "tokenizer")
        dataset = dict(config.get("dataset", {}))
        info = ModelInfo(
            version=version,
            path=models / version,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
            model_size=config["train"]["model_size"],
            params=int(metrics.get("params", 0)),
            vocab_size=int(config["model"]["vocab_size"]),
            tokenizer_version=str(dataset.get("tokenizer_version", "")),
            steps=int(metrics.get("steps", 0)),
            val_loss=metrics.get("val_loss"),
            initial_val_loss=metrics.get("initial_val_loss"),
            trainer=trainer,
            dataset=dataset,
        )
        manifest = info.to_dict()
        del manifest["path"]  # the directory may move with its Delta root
        write_private(staging / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.rename(staging, info.path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return info


def list_models(layout: Layout) -> list[ModelInfo]:
    """Registered models, oldest first; directories without a readable manifest are skipped."""
    if not layout.models.is_dir():
        return []
    found = []
    for d in layout.models.iterdir():
        if d.name.startswith(".") or not (d / MANIFEST).is_file():
            continue
        try:
            found.append(ModelInfo.from_dir(d))
        except (ValueError, TypeError, KeyError):
            continue
    return sorted(found, key=lambda m: (m.created, m.version))


def get_model(layout: Layout, version: str | None = None) -> ModelInfo:
    """The model ``version`` (``None`` or ``latest``: the newest one)."""
    models = list_models(layout)
    if not models:
        raise RegistryError("no model is registered yet; train one with `delta-train`")
    if version in (None, "latest"):
        return models[-1]
    for m in models:
        if m.version == version:
            return m
    raise RegistryError(f"no model {version!r}; `delta model list` shows the registered ones")
