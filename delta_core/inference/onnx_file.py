"""The exported model files: their names, the shape they record, the graph version they carry.

Shared by the backends (which load them) and the exporter (which writes them), so neither
imports the other. No torch and no ONNX Runtime here (onnx only inside :func:`graph_version`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"


@dataclass(frozen=True)
class Shape:
    n_layer: int
    n_head: int
    head_dim: int
    block_size: int
    vocab_size: int

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def graph_version(path: Path | str) -> int:
    """The graph version an exported file was made with (0: unknown or unreadable)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        meta = {p.key: p.value for p in model.metadata_props}
        return int(meta.get("delta_graph", 0))
    except Exception:
        return 0
