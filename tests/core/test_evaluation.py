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


def test_word_acceptance_counts_each_accepted_word_as_one_key():
    from delta_core.learn.eval.protocol import keys_with_words, next_word

    assert next_word("g", "git commit -m fix") == "it"
    assert next_word("git", "git commit -m fix") == " commit"
    assert next_word("git commit -m ", "git commit -m fix") == "fix"
    assert next_word("cd ", "cd ~/src/app") == "~/" and next_word("cd ~/", "cd ~/src/app") == "src/"
    assert next_word("cd ~/src/", "cd ~/src/app") == "app" and next_word("x", "git") == ""
    hist = MemoryHistory()
    for r in _recs(["git commit -m fix", "ls"]):
        hist.add(r)
    recent = Recent(hist)
    lat: list[float] = []
    # "" shows ls: type g; accept "it", " commit", " -m"; " fix" is wrong: type " " and "w";
    # nothing in history starts with "git commit -m w": the last two characters typed
    assert keys_with_words("git commit -m wip", recent.suggest, lat, hist) == 8
    assert keys_to_type("git commit -m wip", recent.suggest, lat, 0, hist) == 17
    assert keys_with_words("ls", recent.suggest, lat, hist) == 1  # the whole suggestion


def test_eval_reports_word_savings_counts_and_where_the_model_wins():
    from delta_core.learn.eval.protocol import StrategyResult, model_wins

    res = evaluate(
        _recs(["git commit -m fix", "ls", "git commit -m fix"]), _recs(["git commit -m wip"], 9)
    )
    s = res["strategies"]["recent"]
    assert s["keystroke_savings"] == 0.0 and s["keystroke_savings_words"] > 0.3
    assert s["counts"] == {"commands": 1, "top1": 0, "keys": 17, "word_keys": 7, "chars": 17}
    # the model's engine took "git push origin main" at "git p" (the arguments), history at
    # the end; "ls" the same; "make" was worse with the model
    a, b = StrategyResult(), StrategyResult()
    a.per_command = [(6, 5), (1, 0), (4, None)]
    b.per_command = [(20, None), (1, 0), (3, 2)]
    wins = model_wins(a, b, ["git push origin main", "ls", "make"])
    assert wins["better"] == 1 and wins["worse"] == 1 and wins["keys_saved"] == 14
    assert wins["commands_by_place"] == {"empty_prompt": 0, "command_name": 0, "arguments": 1}


def test_examples_of_what_the_model_learned_put_never_run_commands_first():
    from delta_core.learn.eval.protocol import DeltaStrategy, Learned, StrategyResult

    hist = MemoryHistory()
    for r in _recs(["git commit -m fix", "ls"]):
        hist.add(r)
    plain = DeltaStrategy(hist, None, "delta_no_model")
    learned = Learned(["git commit -m fix", "ls"])
    model = StrategyResult()
    # "ls" again: the model's engine took it on the empty prompt, history one key later
    model.per_command.append((1, 0))
    plain.result.per_command.append((2, 1))
    learned.offer("ls", model, plain)
    # a commit message never typed: the model completed it after "git commit -m w", history
    # (which only knows "... fix") had to be typed to the end
    model.per_command.append((16, 15))
    plain.result.per_command.append((17, None))
    learned.offer("git commit -m wip", model, plain)
    # one the model did worse on is no example
    model.per_command.append((9, None))
    plain.result.per_command.append((3, 2))
    learned.offer("git log", model, plain)
    assert learned.best() == [
        {"typed": "git commit -m w", "model": "git commit -m wip", "history": None},
        {"typed": "", "model": "ls", "history": "ls"},
    ]


def test_delta_eval_with_a_model_tells_what_the_model_adds(tmp_path, delta_home):
    from tests.core.serve_helpers import promoted_model

    promoted_model(delta_home, tmp_path / "m")
    lines = SAMPLE.read_text().split()
    (tmp_path / "train").write_text("\n".join(lines[:300]) + "\n")
    (tmp_path / "test").write_text("\n".join(lines[300:340]) + "\n")
    args = ["eval", "--train", str(tmp_path / "train"), "--test", str(tmp_path / "test")]
    args += ["--from", "bash", "--model", "latest", "--backend", "torch"]
    out = CliRunner().invoke(build_cli(), [*args, "--json", "--plot", str(tmp_path / "e.png")])
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    assert {"delta", "delta_no_model"} <= set(res["strategies"])
    assert 0.0 <= res["model_weight"] <= 1.0 and 0.0 <= res["typed_weight"] <= 1.0
    wins = res["model_wins"]
    assert set(wins["keys_saved_by_place"]) == {"empty_prompt", "command_name", "arguments"}
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    text = CliRunner().invoke(build_cli(), args)
    assert text.exit_code == 0 and "fitted weight against history" in text.output
    assert "in the arguments" in text.output  # where the model won
    for e in res["model_examples"]:  # and examples of it, as `delta model status` shows them
        assert e["model"].startswith(e["typed"]) and e["model"] in text.output
