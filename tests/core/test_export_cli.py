"""``delta model export-onnx`` and the export done by ``delta model promote``: private files
with KV-cache inputs, logits equal to PyTorch's on the registered weights."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime")

from delta_core.cli import build_cli
from delta_core.inference.backends import OnnxBackend, TorchBackend
from delta_core.inference.cache import Sequence, forward_rows
from delta_core.inference.onnx_file import ONNX_FILE, ONNX_INT8_FILE
from delta_core.paths import Layout
from tests.core.serve_helpers import promoted_model


def test_export_onnx_command_and_export_on_promote(delta_home, tmp_path):
    version = promoted_model(delta_home, tmp_path / "work")
    model_dir = Layout(delta_home).models / version
    assert (model_dir / ONNX_FILE).is_file()  # promote exported it
    (model_dir / ONNX_FILE).unlink()
    got = CliRunner().invoke(build_cli(), ["model", "export-onnx", version, "--int8", "--json"])
    assert got.exit_code == 0, got.output
    files = json.loads(got.output)["files"]
    assert [p.rsplit("/", 1)[1] for p in files] == [ONNX_FILE, ONNX_INT8_FILE]
    for name in (ONNX_FILE, ONNX_INT8_FILE):
        assert stat.S_IMODE((model_dir / name).stat().st_mode) == 0o600
    from delta_core.lm.checkpoint import load_model

    ids = [3, 17, 250, 9, 44, 101]
    a, b = Sequence(OnnxBackend(model_dir / ONNX_FILE).shape), None
    onnx_logits = forward_rows(OnnxBackend(model_dir / ONNX_FILE), [(a, ids)])[0]
    torch_be = TorchBackend(load_model(model_dir))
    b = Sequence(torch_be.shape)
    torch_logits = forward_rows(torch_be, [(b, ids)])[0]
    assert np.abs(onnx_logits - torch_logits).max() <= 1e-4


def test_export_of_an_unknown_version_is_one_line(delta_home):
    got = CliRunner().invoke(build_cli(), ["model", "export-onnx", "nope"])
    assert got.exit_code != 0 and "no model" in got.output and "Traceback" not in got.output
