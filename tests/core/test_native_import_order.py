"""usearch and onnxruntime in one process: Delta loads them in the order that does not crash.

Measured here: ``import usearch`` then ``import onnxruntime`` kills the process with SIGSEGV
(usearch 2.26, onnxruntime 1.32). A shell or CLI process that searched and then suggests must
survive, so each test runs in a child process and checks how it ended.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

# Only look for them: importing them here, in the wrong order, would take pytest down.
pytestmark = pytest.mark.skipif(
    not (importlib.util.find_spec("usearch") and importlib.util.find_spec("onnxruntime")),
    reason="needs the search and serve extras",
)


def child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_search_then_onnx_in_one_process_survives():
    out = child(
        "from delta_core.search.vectors import _usearch\n"
        "_usearch()\n"
        "from delta_core.inference.backends import onnxruntime_usable\n"
        "assert onnxruntime_usable()\n"
        "import onnxruntime\n"
        "print('alive')\n"
    )
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "alive"


def test_onnx_is_refused_not_crashed_after_a_bare_usearch_import():
    out = child(
        "import usearch.index\n"
        "from delta_core.inference.backends import onnxruntime_usable\n"
        "print(onnxruntime_usable())\n"
    )
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "False"
