"""The model ``delta eval`` trains when none is given: on the train history only.

A tokenizer is trained on the train commands, the train history becomes a token dataset (its
last tenth held out for validation, as ``delta-train`` does), and the training loop runs in
this process on the CPU. The result is a model directory shaped like a registered model
(``model.pt``, ``config.json``, ``tokenizer/``), so the eval loads it the way the shell does;
the model's weight against history (``blend.json``, :mod:`delta_core.suggest.fit`) is fitted
on the held-out tenth.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delta_core.records.record import Record


def _sessions(records: Sequence[Record]) -> list[list[Record]]:
    """Consecutive records grouped by session id (a plain history is one session)."""
    out: list[list[Record]] = []
    for rec in records:
        if out and out[-1][0].session == rec.session:
            out[-1].append(rec)
        else:
            out.append([rec])
    return out


def train_eval_model(
    train: Sequence[Record],
    workdir: Path,
    plugins: dict[str, Any],
    *,
    model_size: str = "tiny",
    max_steps: int = 300,
    block_size: int = 64,
    vocab_size: int = 1024,
    seed: int = 1337,
    device: str = "cpu",
    quiet: bool = True,
) -> Path:
    """Train a tokenizer and a model on ``train``; return the model directory."""
    import shutil

    from delta_core.learn.datasets import write_dataset
    from delta_core.tokenizer.versions import train_tokenizer

    plugin = plugins.get("sentencepiece") or next(iter(plugins.values()))
    info = train_tokenizer(
        [r.command for r in train], plugin, root=workdir, vocab_size=vocab_size, activate=False
    )
    from delta_core.suggest.completer import load_tokenizer_dir

    tok = load_tokenizer_dir(info.directory, plugins)
    cut = max(1, int(len(train) * 0.9))
    data = workdir / "dataset"
    write_dataset(data, tok, _sessions(train[:cut]), _sessions(train[cut:]) or [[train[-1]]])
    from delta_core.learn.train.config import TrainConfig
    from delta_core.learn.train.loop import train as run_training

    out = workdir / "model"
    cfg = TrainConfig(
        dataset=str(data),
        out=str(out),
        model_size=model_size,
        max_steps=max_steps,
        block_size=block_size,
        device=device,
        progress="off",
        patience=0,
        seed=seed,
        compile="off",
        log_interval=max(1, max_steps // 5),
    )
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        run_training(cfg)
    shutil.copytree(info.directory, out / "tokenizer")
    if cut < len(train):  # the model's weight against history, on the validation tail
        from delta_core.suggest.completer import ModelCompleter
        from delta_core.suggest.fit import fit_model_weight, fit_typed_weight, save_model_weight

        completer = ModelCompleter.from_dir(out, plugins, device=device)
        heldout = train[cut:]
        weight = fit_model_weight(completer, train[:cut], heldout)
        completer.model_weight = weight
        typed = fit_typed_weight(completer, train[:cut], heldout)
        save_model_weight(out, weight, len(heldout), typed)
    return out
