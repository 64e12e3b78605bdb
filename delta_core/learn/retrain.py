"""Learning as a loop: the memory retrains its model by itself, in the background.

Once ``learn.retrain_after`` commands have arrived since the served model was trained (or
since the last retrain began), a shell starts ``delta model retrain --if-due`` detached and
at low priority (:func:`start_detached`); it never runs on the prompt path. The retrain
takes a lock (one at a time, whatever the number of shells), continues an interrupted run
when there is one (``--resume``), else builds a dataset from the memory and trains
``learn.retrain_size`` for ``learn.retrain_steps`` steps with the local trainer. The new
model is judged by the promotion gate and promoted when it passes, so every shell and
``delta serve`` hot-swap to it as after ``delta-train``. ``learn.auto_retrain = false``
switches the loop off.

What happened is kept in ``retrain.json`` (0600); ``delta model status`` shows it with the
served model's figures (:func:`model_status`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from delta_core.paths import private_dir, write_private

STATE_FILE = "retrain.json"
LOCK_FILE = "retrain.lock"
#: Seconds between two due-checks of one shell (a check reads two small files).
CHECK_INTERVAL_S = 60.0


def state_path(layout: Any) -> Path:
    return Path(layout.root) / STATE_FILE


def read_state(layout: Any) -> dict[str, Any]:
    try:
        data = json.loads(state_path(layout).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(layout: Any, **changes: Any) -> dict[str, Any]:
    data = {**read_state(layout), **changes}
    write_private(state_path(layout), json.dumps(data, indent=1) + "\n")
    return data


def trained_on(layout: Any, version: str | None) -> int | None:
    """How many commands of the memory the model ``version`` was trained on (None: unknown)."""
    if not version:
        return None
    from delta_core.learn.registry import RegistryError, get_model

    try:
        info = get_model(layout, version)
    except RegistryError:
        return None
    extraction = info.dataset.get("extraction")
    if not isinstance(extraction, dict):  # the config keeps a summary; the copy has it all
        try:
            meta = json.loads((info.path / "dataset.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        extraction = meta.get("extraction") if isinstance(meta, dict) else None
    kept = extraction.get("kept") if isinstance(extraction, dict) else None
    return int(kept) if isinstance(kept, int) else None


def due(ctx: Any) -> tuple[bool, str]:
    """Whether a retrain is due now, and why (or why not)."""
    if not ctx.config["learn.auto_retrain"]:
        return False, "the learning loop is off (learn.auto_retrain = false)"
    from delta_core.learn.deploy import active_version

    total = ctx.store.count()
    state = read_state(ctx.layout)
    base = state.get("started_at_commands")
    if base is None:
        base = trained_on(ctx.layout, active_version(ctx.layout)) or 0
    new = total - int(base)
    need = int(ctx.config["learn.retrain_after"])
    if new < need:
        return False, f"{new} new commands since the last training; retrains after {need}"
    return True, f"{new} new commands since the last training (retrains after {need})"


def _lock(layout: Any) -> int | None:
    """The retrain lock's descriptor, or None when another retrain holds it."""
    import fcntl

    fd = os.open(private_dir(Path(layout.root)) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def retrain(ctx: Any, *, if_due: bool = False, say: Any = print) -> str:
    """Retrain now (or only when :func:`due`, with ``if_due``); one line saying what happened."""
    if if_due:
        ok, why = due(ctx)
        if not ok:
            return f"no retrain: {why}"
    fd = _lock(ctx.layout)
    if fd is None:
        return "no retrain: another one is running"
    try:
        with contextlib.suppress(OSError):
            os.nice(10)  # below the user's own work
        from delta_core.learn.promotion import after_training
        from delta_core.learn.train.pipeline import (
            TrainRequest,
            last_unfinished_run,
            run_training,
        )

        resume = last_unfinished_run(ctx) is not None
        count = ctx.store.count()
        write_state(ctx.layout, started_ns=time.time_ns(), started_at_commands=count)
        steps = int(ctx.config["learn.retrain_steps"])
        request = TrainRequest(
            trainer="local",
            model_size=ctx.config["learn.retrain_size"],
            max_steps=steps,
            retrain_tokenizer=True,
        )
        try:
            info = run_training(ctx, request, resume=resume, say=say)
            line = after_training(ctx, info)
        except Exception as exc:
            line = f"retrain failed: {' '.join(str(exc).split())}"
        write_state(ctx.layout, finished_ns=time.time_ns(), result=line, resumed=resume)
        return line
    finally:
        os.close(fd)


def start_detached(env: dict[str, str]) -> subprocess.Popen:
    """``delta model retrain --if-due`` in its own session, niced, output to nowhere."""
    code = "from delta_core.cli import main; main(['model', 'retrain', '--if-due'])"
    return subprocess.Popen(
        [sys.executable, "-c", code],  # the child nices itself (retrain)
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def model_status(ctx: Any) -> dict[str, Any]:
    """What is served, when it was trained, on how many commands, how it scored, and the
    learning loop's state."""
    from delta_core.learn.deploy import GATE_FILE, active_version
    from delta_core.learn.registry import RegistryError, get_model
    from delta_core.suggest.fit import load_model_weight, load_typed_weight

    out: dict[str, Any] = {"served": None}
    version = active_version(ctx.layout)
    if version:
        try:
            info = get_model(ctx.layout, version)
        except RegistryError:
            info = None
        if info is not None:
            gate = None
            with contextlib.suppress(OSError, ValueError):
                gate = json.loads((info.path / GATE_FILE).read_text(encoding="utf-8"))
            out["served"] = {
                "version": version,
                "trained": info.created,
                "model_size": info.model_size,
                "steps": info.steps,
                "trained_on_commands": trained_on(ctx.layout, version),
                "model_weight": load_model_weight(info.path),
                "typed_weight": load_typed_weight(info.path),
                "gate": gate,
            }
    ok, why = due(ctx)
    out["loop"] = {
        "on": bool(ctx.config["learn.auto_retrain"]),
        "due": ok,
        "why": why,
        "commands": ctx.store.count(),
        **read_state(ctx.layout),
    }
    return out
