"""Where an inference step runs: PyTorch or ONNX Runtime, behind one numpy interface.

A backend has the model's shape (``n_layer``, ``n_head``, ``head_dim``, ``block_size``,
``vocab_size``) and one method, :meth:`step`, with the signature of
:class:`~delta_core.inference.graph.StepGraph` on numpy arrays. Everything above it (caches,
batching, decoding, speculation, the server) is backend-agnostic, so tests run the same
decoding on PyTorch and on ONNX Runtime and compare.

ONNX Runtime uses the CUDA provider when it is installed and a GPU is present, else the CPU;
PyTorch runs on the device it is given. Both import lazily (the shell never loads them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from delta_core.inference.onnx_file import ONNX_INT8_FILE, Shape


class TorchBackend:
    """Eager PyTorch (tests, GPUs, and the baseline of the benchmarks)."""

    name = "torch"

    def __init__(self, model: Any, device: str = "cpu") -> None:
        import torch

        from delta_core.inference.graph import StepGraph

        self.torch = torch
        self.device = device
        self.model = model.eval()
        self.graph = StepGraph(self.model).eval()
        c = model.config
        self.shape = Shape(c.n_layer, c.n_head, c.n_embd // c.n_head, c.block_size, c.vocab_size)

    def step(self, input_ids, position_ids, attn_mask, past_kv) -> tuple[np.ndarray, np.ndarray]:
        t = self.torch
        with t.inference_mode():
            args = [t.from_numpy(a).to(self.device) for a in (input_ids, position_ids, attn_mask)]
            past = t.from_numpy(past_kv).to(self.device)
            layers = [past[i, j] for i in range(self.shape.n_layer) for j in (0, 1)]
            logits, new_kv = self.graph(*args, *layers)
            return logits.float().cpu().numpy(), new_kv.float().cpu().numpy()


def onnxruntime_usable() -> bool:
    """Whether ``import onnxruntime`` is safe here: installed, and not after usearch.

    usearch 2.26 loaded before onnxruntime 1.32 makes onnxruntime's import crash the whole
    process (see :mod:`delta_core.search.vectors`, which loads them the safe way round).
    """
    if "onnxruntime" in sys.modules:
        return True
    if "usearch" in sys.modules:
        return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxBackend:
    """ONNX Runtime over an exported ``model.onnx`` (see :mod:`delta_core.inference.export`)."""

    name = "onnx"

    def __init__(self, path: Path | str, threads: int = 0, providers: list[str] | None = None):
        if not onnxruntime_usable():
            raise RuntimeError(
                "ONNX Runtime cannot be loaded in this process (usearch was loaded first); "
                "use the torch backend"
            )
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider",) if p in available]
            providers.append("CPUExecutionProvider")
        self.session = ort.InferenceSession(str(path), opts, providers=providers)
        self.providers = self.session.get_providers()
        meta = self.session.get_modelmeta().custom_metadata_map
        if "delta_shape" not in meta:
            raise ValueError(f"{path} was not exported by delta (no shape metadata); re-export it")
        self.shape = Shape(**json.loads(meta["delta_shape"]))
        self.path = Path(path)
        if self.path.name == ONNX_INT8_FILE:
            self.name = "onnx-int8"

    def step(self, input_ids, position_ids, attn_mask, past_kv) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": input_ids, "position_ids": position_ids, "attn_mask": attn_mask}
        for i in range(self.shape.n_layer):  # views: a contiguous cache is not copied
            feed[f"past_k_{i}"] = past_kv[i, 0]
            feed[f"past_v_{i}"] = past_kv[i, 1]
        logits, new_kv = self.session.run(None, feed)
        return logits, new_kv


def loadable_kind(kind: str) -> str:
    """The backend this process can load for ``kind``: ONNX kinds become ``torch`` when
    ONNX Runtime cannot be imported here (not installed, or usearch came first)."""
    if kind in ("onnx", "onnx-int8", "auto") and not onnxruntime_usable():
        return "torch"
    return kind


def load_backend(model_dir: Path | str, kind: str = "auto", device: str = "cpu", threads: int = 0):
    """The backend for a registered model directory.

    ``kind``: ``onnx`` (``model.onnx``, exported on demand), ``onnx-int8``, ``torch``, or
    ``auto`` (ONNX Runtime when installed, else PyTorch).
    """
    model_dir = Path(model_dir)
    if kind == "auto":
        kind = "onnx" if onnxruntime_usable() else "torch"
    if kind in ("onnx", "onnx-int8"):
        from delta_core.inference.export import ensure_onnx

        path = ensure_onnx(model_dir, quantized=kind == "onnx-int8")
        return OnnxBackend(path, threads=threads)
    if kind == "torch":
        from delta_core.lm.checkpoint import load_model

        if threads:
            import torch

            torch.set_num_threads(threads)
        return TorchBackend(load_model(model_dir, device), device)
    raise ValueError(f"unknown inference backend {kind!r}; choose auto, onnx, onnx-int8 or torch")
