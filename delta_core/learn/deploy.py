"""Which model serves suggestions: the ``active`` pointer, promotion, rollback, the gate.

``models/active`` holds the version being served (one line). A running shell checks the
file's modification time now and then and loads the new model when it changes, so a
promotion reaches every shell without a restart. ``models/promotions.jsonl`` lists every
promotion in order; ``rollback`` goes back to the version active before the current one.

The evaluation gate (:func:`gate`) decides whether a freshly trained model is promoted: on
held-back recent history it must beat the current model (when there is one) and every
baseline on keystroke savings.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from delta_core.config import SETTINGS
from delta_core.learn.registry import RegistryError, get_model
from delta_core.paths import Layout, private_dir, write_private

ACTIVE = "active"
#: What ``delta serve`` runs unless configured otherwise (``serve.backend``).
SERVED = SETTINGS["serve.backend"].default
LOG = "promotions.jsonl"


def active_path(layout: Layout) -> Path:
    return layout.models / ACTIVE


def active_version(layout: Layout) -> str | None:
    """The version being served, or None (no model promoted yet)."""
    try:
        text = active_path(layout).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):  # absent, or the Delta root is unusable: none served
        return None
    return text or None


def _history(layout: Layout) -> list[dict[str, Any]]:
    path = layout.models / LOG
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _write_active(layout: Layout, version: str, reason: str, metrics: dict | None) -> None:
    private_dir(layout.models)
    write_private(active_path(layout), version + "\n")
    entry = {"version": version, "time": time.time(), "reason": reason, "metrics": metrics or {}}
    lines = [json.dumps(e) for e in _history(layout)] + [json.dumps(entry)]
    write_private(layout.models / LOG, "\n".join(lines) + "\n")


def promote(
    layout: Layout,
    version: str,
    reason: str = "manual",
    metrics: dict | None = None,
    backend: str = SERVED,
):
    """Make ``version`` the served model; return its info. Raises :class:`RegistryError`.

    ``backend``: the ``serve.backend`` setting, whose ONNX file is written now.
    """
    info = get_model(layout, version)
    export_for_serving(layout, info.path, backend)
    _write_active(layout, info.version, reason, metrics)
    return info


def export_for_serving(layout: Layout, model_dir: Path, backend: str = SERVED) -> None:
    """Write ``model.onnx`` (and ``model.int8.onnx`` for the ``onnx-int8`` backend) beside
    the weights so the server starts without exporting.

    Best effort: without onnx installed, or when the export fails, the model is still
    promoted and served through PyTorch; the reason goes to the log.
    """
    try:
        from delta_core.inference.export import ensure_onnx

        ensure_onnx(model_dir, quantized=backend == "onnx-int8")
    except ImportError:
        return
    except Exception as exc:
        from delta_core import log

        log.problem(
            f"ONNX export of {model_dir.name} failed ({exc}); serving with PyTorch", layout.log_file
        )


def rollback(layout: Layout) -> str:
    """Serve the model that was active before the current one; return its version."""
    current = active_version(layout)
    earlier = [e["version"] for e in _history(layout) if e.get("version") != current]
    for version in reversed(earlier):
        if (layout.models / version).is_dir():
            _write_active(layout, version, f"rollback from {current}", None)
            return version
    raise RegistryError("there is no earlier promoted model to roll back to")


def active_stamp(layout: Layout) -> float:
    """The pointer's modification time (0 when absent): cheap to poll from a shell."""
    try:
        return os.stat(active_path(layout)).st_mtime
    except OSError:
        return 0.0


def gate(
    result: dict[str, Any], candidate: str = "delta", current: str = "current"
) -> tuple[bool, str]:
    """Whether the candidate beats the current model and every baseline on keystroke savings."""
    s = result["strategies"]
    mine = s[candidate]["keystroke_savings"]
    for name, m in s.items():
        if name in (candidate, "delta_history"):
            continue
        if m["keystroke_savings"] >= mine:
            return (
                False,
                f"keystroke savings {mine:.1%} do not beat {name} ({m['keystroke_savings']:.1%})",
            )
    return True, f"keystroke savings {mine:.1%} beat every baseline" + (
        " and the current model" if current in s else ""
    )
