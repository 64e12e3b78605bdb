"""Which model serves suggestions: the ``active`` pointer, promotion, rollback, the gate.

``models/active`` holds the version being served (one line; empty: none, suggestions come
from history alone). A running shell checks the file's modification time now and then and
loads the new model when it changes, so a promotion reaches every shell without a restart.
``models/promotions.jsonl`` lists every change in order (version ``""``: history only);
``rollback`` goes back to what was served before the current one, history only included.

Each model the gate judged keeps its verdict in ``gate.json``; promoting one the gate rejected
takes ``force`` (:class:`GateRejected` says why otherwise).

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
GATE_FILE = "gate.json"
#: What ``delta model use`` takes to serve no model (suggestions from history alone).
NONE = "none"


class GateRejected(RegistryError):
    """The promotion gate rejected this model; promoting it needs ``force``."""


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


def record_verdict(
    model_dir: Path, passed: bool, reason: str, result: dict[str, Any] | None = None
) -> None:
    """Keep the gate's verdict on a model beside it (``gate.json``, 0600), with the figures
    it judged on when given (``delta model status`` shows them)."""
    import time

    data: dict[str, Any] = {"passed": passed, "reason": reason}
    if result is not None:
        data["commands"] = result.get("commands")
        data["strategies"] = {
            name: {k: m.get(k) for k in ("top1", "keystroke_savings", "keystroke_savings_words")}
            for name, m in result.get("strategies", {}).items()
        }
        # what the model completed sooner than history alone (command text from the memory,
        # in a 0600 file beside the model; `forget` deletes it with the model's other copies)
        data["examples"] = list(result.get("model_examples", []))
        data["judged_ns"] = time.time_ns()
    write_private(Path(model_dir) / GATE_FILE, json.dumps(data, indent=1) + "\n")


def verdict(model_dir: Path) -> dict[str, Any] | None:
    """The gate's verdict on a model, or None when the gate never judged it."""
    try:
        data = json.loads((model_dir / GATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def learned_lines(examples: list[dict[str, Any]], limit: int = 3, indent: str = "  ") -> list[str]:
    """The gate's examples of what a model learned, two lines each (they fit 80 columns where
    the commands do): what was typed and what the model completed, then what history alone
    suggested there; every line starts with ``indent``."""
    lines = []
    for e in examples[:limit]:
        try:
            typed, model, alone = str(e["typed"]), str(e["model"]), e.get("history")
        except (KeyError, TypeError):
            continue
        where = f"`{typed}` -> " if typed else "empty prompt -> "
        lines.append(f"{indent}{where}{model}")
        lines.append(f"{indent}    history alone: {alone or 'nothing'}")
    return lines


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
    force: bool = False,
):
    """Make ``version`` the served model; return its info. Raises :class:`RegistryError`,
    and :class:`GateRejected` for a model the gate rejected unless ``force``.

    ``backend``: the ``serve.backend`` setting, whose ONNX file is written now.
    """
    info = get_model(layout, version)
    judged = verdict(info.path)
    if judged is not None and not judged.get("passed", True) and not force:
        raise GateRejected(
            f"the promotion gate rejected model {info.version} "
            f"({judged.get('reason') or 'no reason recorded'}); promote it anyway with --force"
        )
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


def serve_none(layout: Layout, reason: str = "manual") -> None:
    """Serve no model: suggestions come from history alone until a model is promoted."""
    _write_active(layout, "", reason, None)


def rollback(layout: Layout) -> str | None:
    """Serve what was served before the current state; return its version (None: history
    only). From the first model ever promoted that is history only; from history only, the
    model served last. Raises :class:`RegistryError` when nothing was ever served."""
    current = active_version(layout) or ""
    entries = [str(e.get("version") or "") for e in _history(layout)]
    for version in reversed(entries):
        if version == current:
            continue
        if not version or (layout.models / version).is_dir():
            _write_active(layout, version, f"rollback from {current or NONE}", None)
            return version or None
    if current:  # the only model ever served: before it came history alone
        _write_active(layout, "", f"rollback from {current}", None)
        return None
    raise RegistryError("no model was ever served, so there is nothing to roll back to")


def active_stamp(layout: Layout) -> float:
    """The pointer's modification time (0 when absent): cheap to poll from a shell."""
    try:
        return os.stat(active_path(layout)).st_mtime
    except OSError:
        return 0.0


#: The name under which an eval result holds Delta without a model (the gate's floor).
NO_MODEL = "delta_no_model"


def gate(
    result: dict[str, Any],
    candidate: str = "delta",
    current: str = "current",
    history_alone: str = NO_MODEL,
) -> tuple[bool, str]:
    """Whether the candidate beats the current model and every baseline on keystroke savings,
    and does no worse than Delta's history alone (``history_alone``, when the result has it:
    a model whose weight was fitted to nothing may tie it, one that costs keys may not)."""
    s = result["strategies"]
    mine = s[candidate]["keystroke_savings"]
    for name, m in s.items():
        if name == candidate:
            continue
        if name == history_alone:
            if m["keystroke_savings"] > mine:
                return (
                    False,
                    f"keystroke savings {mine:.1%} fall below history alone "
                    f"({m['keystroke_savings']:.1%})",
                )
            continue
        if m["keystroke_savings"] >= mine:
            return (
                False,
                f"keystroke savings {mine:.1%} do not beat {name} ({m['keystroke_savings']:.1%})",
            )
    return True, f"keystroke savings {mine:.1%} beat every baseline" + (
        " and the current model" if current in s else ""
    )
