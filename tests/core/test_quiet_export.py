"""Third-party chatter stays off the terminal: onnxruntime's quantizer logs advice through
the root logger ("Please consider to run pre-processing before quantization"), which reached
the user's terminal during ``delta-train``; it goes to ``delta.log`` now (issue 15)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("onnxruntime")

SCRIPT = """
import logging, sys, torch
from pathlib import Path
from delta_core.inference.export import export_model, quantize
from delta_core.lm.config import GPTConfig
from delta_core.lm.gpt import GPT

out = Path(sys.argv[1])
torch.manual_seed(0)
model = GPT(GPTConfig(vocab_size=64, n_layer=1, n_head=2, n_embd=16, block_size=32))
fp32 = export_model(model, out / "model.onnx")
quantize(fp32, out / "model.int8.onnx")
logging.getLogger("after").warning("a warning of the program itself")
"""


def test_the_quantizer_advice_goes_to_the_log_not_the_terminal(tmp_path, delta_home):
    delta_home.mkdir(parents=True)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "model.int8.onnx").is_file()
    assert "pre-processing" not in run.stderr, run.stderr
    assert "pre-processing" in (delta_home / "delta.log").read_text()
    # the root logger is left as it was found: the program's own warning still shows
    assert "a warning of the program itself" in run.stderr
