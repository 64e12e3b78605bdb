"""The eval protocol on hand-checked histories, and `delta eval` on a real data sample."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.learn.eval.protocol import evaluate, keys_to_type
from delta_core.learn.eval.strategies import Recent
from delta_core.records.record import Record
from delta_core.suggest.history import MemoryHistory

SAMPLE = Path(__file__).parents[1] / "data" / "sea_user_sample.txt"


def _recs(cmds, start=0):
    return [Record(c, (start + i + 1) * 60_000_000_000) for i, c in enumerate(cmds)]


def test_keystrokes_follow_the_definition():
    hist = MemoryHistory()
    for r in _recs(["git status", "grep x"]):
        hist.add(r)
    recent = Recent(hist)
    lat: list[float] = []
    # "g" -> grep x (most recent); "gi" -> git status: 2 typed + 1 accept
    assert keys_to_type("git status", recent.suggest, lat) == 3
    assert keys_to_type("ls", recent.suggest, lat) == 2  # never suggested: every key
    assert keys_to_type("grep x", recent.suggest, lat) == 1  # the empty prompt already shows it


def test_top1_and_savings_on_a_tiny_replay():
    res = evaluate(_recs(["a1", "b22", "a1", "b22"]), _recs(["a1", "b22"], 10))
    s = res["strategies"]
    assert res["commands"] == 2
    # after b22 comes a1 and after a1 comes b22: bigram knows, recent does not
    assert s["bigram"]["top1"] == 1.0 and s["bigram"]["keystroke_savings"] == 1 - 2 / 5
    assert s["recent"]["top1"] == 0.0
    assert set(s) == {"recent", "frequent", "match_prev_cmd", "bigram", "delta"}


def test_delta_eval_json_shape_and_plot(tmp_path, delta_home):
    lines = SAMPLE.read_text().split()
    (tmp_path / "train").write_text("\n".join(lines[:800]) + "\n")
    (tmp_path / "test").write_text("\n".join(lines[800:1000]) + "\n")
    args = ["eval", "--train", str(tmp_path / "train"), "--test", str(tmp_path / "test")]
    args += ["--from", "bash", "--no-model", "--json", "--plot", str(tmp_path / "e.png")]
    out = CliRunner().invoke(build_cli(), args)
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    assert set(res) == {"commands", "strategies"} and res["commands"] == 200
    keys = {"top1", "top5", "keystroke_savings", "latency_p50_ms", "latency_p95_ms"}
    assert all(keys <= set(m) for m in res["strategies"].values())
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    s = res["strategies"]
    # the context ranking alone beats the context-free baselines
    assert s["delta"]["keystroke_savings"] > s["recent"]["keystroke_savings"]
    assert s["delta"]["top1"] > 2 * s["frequent"]["top1"]


def test_delta_eval_errors_are_one_line(tmp_path, delta_home):
    out = CliRunner().invoke(build_cli(), ["eval", "--train", "x", "--test", "y", "--from", "nope"])
    assert out.exit_code != 0 and "no importer named 'nope'" in out.output
