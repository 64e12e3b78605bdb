"""ONNX export of a Delta model with KV-cache inputs and outputs (imports torch and onnx).

The exported graph is :class:`~delta_core.inference.graph.StepGraph`: dynamic batch, new
tokens and past length (past may be empty: one graph serves prefill and decoding). The
model's shape goes into the ONNX metadata (``delta_shape``) so ONNX Runtime serves it with
no torch import. ``model.int8.onnx`` is the optional int8 dynamic quantization (weights in
int8, activations quantized on the fly): smaller and faster on CPUs, slightly different logits.
Files are written atomically and 0600, like every model file.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

from delta_core.inference.onnx_file import ONNX_FILE, ONNX_INT8_FILE, Shape, graph_version
from delta_core.paths import write_private

OPSET = 17
GRAPH_VERSION = 3  # delta_core.inference.graph.GRAPH_VERSION (kept here: no torch import)


def _trace_inputs(shape: Shape, batch: int = 2, new: int = 3, past: int = 2):
    import torch

    ids = torch.zeros((batch, new), dtype=torch.long)
    pos = torch.arange(past, past + new).repeat(batch, 1)
    mask = torch.ones((batch, new, past + new), dtype=torch.bool).tril(diagonal=past)
    kv = [
        torch.zeros((batch, shape.n_head, past, shape.head_dim)) for _ in range(2 * shape.n_layer)
    ]
    return ids, pos, mask, *kv


def export_model(model: Any, path: Path | str) -> Path:
    """Write ``model`` (a GPT) as ONNX to ``path``; return the path."""
    import onnx
    import torch

    from delta_core.inference.graph import GRAPH_VERSION as built
    from delta_core.inference.graph import StepGraph

    assert built == GRAPH_VERSION, "update export.GRAPH_VERSION with graph.GRAPH_VERSION"
    c = model.config
    shape = Shape(c.n_layer, c.n_head, c.n_embd // c.n_head, c.block_size, c.vocab_size)
    graph = StepGraph(model.eval().float().cpu()).eval()
    past_names = [f"past_{kv}_{i}" for i in range(shape.n_layer) for kv in "kv"]
    buf = io.BytesIO()
    # the TorchScript exporter is deprecated but needs no onnxscript and handles this graph
    from delta_core import log
    from delta_core.paths import Layout

    with torch.no_grad(), log.third_party_to_log(Layout().log_file), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            graph,
            _trace_inputs(shape),
            buf,
            input_names=["input_ids", "position_ids", "attn_mask", *past_names],
            output_names=["logits", "new_kv"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "new"},
                "position_ids": {0: "batch", 1: "new"},
                "attn_mask": {0: "batch", 1: "new", 2: "total"},
                **{name: {0: "batch", 2: "past"} for name in past_names},
                "logits": {0: "batch", 1: "new"},
                "new_kv": {2: "batch", 4: "new"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = "delta_shape", shape.to_json()
    entry = proto.metadata_props.add()
    entry.key, entry.value = "delta_graph", str(GRAPH_VERSION)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_private(tmp, proto.SerializeToString())
    os.replace(tmp, path)
    return path


def quantize(src: Path | str, dst: Path | str) -> Path:
    """int8 dynamic quantization of an exported model (MatMul weights)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    from delta_core import log
    from delta_core.paths import Layout

    # onnxruntime logs advice ("consider pre-processing") meant for its developers' users
    with log.third_party_to_log(Layout().log_file):
        quantize_dynamic(
            str(src), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"]
        )
    os.chmod(tmp, 0o600)
    os.replace(tmp, dst)
    return dst


def export_dir(model_dir: Path | str) -> Path:
    """Export ``models/<version>/model.onnx`` from its weights (now, fresh or not)."""
    from delta_core.lm.checkpoint import load_model

    model_dir = Path(model_dir)
    return export_model(load_model(model_dir, "cpu"), model_dir / ONNX_FILE)


def _fresh(path: Path, weights: Path) -> bool:
    return (
        path.exists()
        and (not weights.exists() or path.stat().st_mtime >= weights.stat().st_mtime)
        and graph_version(path) == GRAPH_VERSION
    )


def ensure_onnx(model_dir: Path | str, quantized: bool = False) -> Path:
    """The ONNX file of a model directory, exported now if missing or older than the weights.

    ``quantized``: ``model.int8.onnx``, quantized from a fresh ``model.onnx`` (exported first
    only when that one is stale too).
    """
    model_dir = Path(model_dir)
    weights = model_dir / "model.pt"
    fp32 = model_dir / ONNX_FILE
    if not _fresh(fp32, weights):
        export_dir(model_dir)
    if not quantized:
        return fp32
    int8 = model_dir / ONNX_INT8_FILE
    if not _fresh(int8, fp32):
        quantize(fp32, int8)
    return int8
