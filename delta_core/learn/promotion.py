"""The evaluation gate after ``delta-train``: promote a new model only when it is better.

The held-back history is the memory's commands from the dataset's validation split onward
(``split_time_ns`` in the model's ``dataset.json``; the newest tenth when unknown): the
model never trained on them. The candidate runs as ``delta``, the served model (if any) as
``current``, beside the baselines, with :func:`delta_core.learn.eval.protocol.evaluate`. Both run on
the backend ``delta serve`` will use (``serve.backend``, int8 ONNX by default), so the gate
judges the model users get, not its fp32 original. A model without a fitted weight against
history (:mod:`delta_core.suggest.fit`) gets one here, fitted on the first half of the
held-back commands, and is judged on the second half (as every other strategy then is); it
keeps the weight for the shells that will serve it.
"""

from __future__ import annotations

import json
from typing import Any

from delta_core.learn.deploy import NO_MODEL, active_version, gate, promote, record_verdict
from delta_core.learn.registry import ModelInfo, get_model

#: Held-back commands replayed at most (the first after the split): each costs a model call per
#: keystroke, and the gate runs inside `delta-train` on a laptop CPU.
GATE_COMMANDS = 200


def held_back(ctx: Any, info: ModelInfo) -> tuple[list, list]:
    """``(history before, held-back commands)`` for a model, from the memory."""
    records = list(ctx.store.iter_records())
    split = None
    meta = info.path / "dataset.json"
    if meta.is_file():
        split = json.loads(meta.read_text(encoding="utf-8")).get("split_time_ns")
    if split:
        cut = next((i for i, r in enumerate(records) if r.start_ns >= split), len(records))
    else:
        cut = len(records) - max(1, len(records) // 10)
    return records[:cut], records[cut : cut + GATE_COMMANDS]


def evaluate_candidate(ctx: Any, version: str) -> tuple[bool, str, dict[str, Any]]:
    """Run the gate for ``version``; ``(passed, reason, eval result)``.

    The result's ``backend`` says what was evaluated (the served one unless ONNX Runtime
    cannot be loaded in this process: then PyTorch).
    """
    from delta_core.inference.backends import loadable_kind
    from delta_core.learn.eval.protocol import evaluate
    from delta_core.suggest.completer import ModelCompleter
    from delta_core.suggest.fit import (
        fit_model_weight,
        fit_typed_weight,
        load_model_weight,
        save_model_weight,
    )

    info = get_model(ctx.layout, version)
    before, test = held_back(ctx, info)
    if not test or not before:
        return False, "no held-back history to evaluate on", {}
    plugins = ctx.components.tokenizers
    kind = loadable_kind(ctx.config["serve.backend"])
    # Delta without a model beside it: the gate's floor, and what the examples of what the
    # model learned are told against
    others: dict[str, Any] = {NO_MODEL: None}
    current = active_version(ctx.layout)
    if current and current != info.version and (ctx.layout.models / current).is_dir():
        others["current"] = ModelCompleter.from_dir(
            ctx.layout.models / current, plugins, backend=kind
        )
    candidate = ModelCompleter.from_dir(info.path, plugins, backend=kind)
    if load_model_weight(info.path) is None and len(test) > 1:
        # the model's weight against history: one scalar, fitted on the first half of the
        # held-back commands and judged with every other strategy on the rest (a weight
        # chosen on the commands it is judged on would flatter the candidate)
        fit, test = test[: len(test) // 2], test[len(test) // 2 :]
        candidate.model_weight = fit_model_weight(candidate, before, fit)
        candidate.typed_weight = fit_typed_weight(candidate, before, fit)
        save_model_weight(info.path, candidate.model_weight, len(fit), candidate.typed_weight)
        before = [*before, *fit]
    result = evaluate(before, test, candidate, others=others)
    result["backend"] = served = candidate.engine.backend.name  # what was loaded, not asked
    ok, reason = gate(result)
    return ok, f"{reason} ({served})", result


def after_training(ctx: Any, info: ModelInfo) -> str:
    """Gate and maybe promote a model just registered; one line saying what happened."""
    try:
        ok, reason, result = evaluate_candidate(ctx, info.version)
    except Exception as exc:  # the model is registered either way; say why it is not served
        return f"model {info.version} not promoted: evaluation failed ({exc})"
    record_verdict(info.path, ok, reason, result)
    if not ok:
        return (
            f"model {info.version} not promoted: {reason}; "
            f"`delta model promote --force {info.version}` serves it anyway"
        )
    metrics = {**result.get("strategies", {}).get("delta", {}), "backend": result["backend"]}
    promote(ctx.layout, info.version, "gate", metrics, backend=ctx.config["serve.backend"])
    return f"model {info.version} promoted: {reason}"
