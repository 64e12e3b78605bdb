"""Which model serves, as a user steers it: a gate-rejected model needs ``--force`` (and the
refusal says why), ``delta model use none`` goes back to history alone, and ``rollback``
works from every state (issue 15)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.learn.deploy import active_version, record_verdict
from delta_core.learn.registry import register_model
from delta_core.paths import Layout

NOW = 1_780_000_000.0


def _run_dir(path):
    """The files a finished training run leaves (weights stand in as bytes: never loaded)."""
    path.mkdir(parents=True)
    (path / "model.pt").write_bytes(b"weights")
    (path / "config.json").write_text(json.dumps({
        "model": {"vocab_size": 259, "n_layer": 2}, "train": {"model_size": "tiny"},
        "dataset": {"tokenizer_version": "tok-3"},
    }))  # fmt: skip
    (path / "metrics.json").write_text(json.dumps({"params": 4000, "steps": 6, "val_loss": 2.0}))
    return path


def _delta(*args):
    return CliRunner().invoke(build_cli(), list(args))


def test_promoting_a_model_the_gate_rejected_needs_force_and_says_why(tmp_path, delta_home):
    layout = Layout(delta_home)
    info = register_model(layout, _run_dir(tmp_path / "r"), trainer="local", now=NOW)
    record_verdict(info.path, False, "keystroke savings 1.0% do not beat recent (4.0%)")

    refused = _delta("model", "promote", info.version)
    assert refused.exit_code == 1
    assert "the promotion gate rejected model" in refused.output
    assert "do not beat recent (4.0%)" in refused.output and "--force" in refused.output
    assert "\n" not in refused.output.strip()
    assert active_version(layout) is None

    forced = _delta("model", "promote", "--force", info.version)
    assert forced.exit_code == 0, forced.output
    assert active_version(layout) == info.version


def test_a_model_the_gate_passed_or_never_judged_is_promoted_without_force(tmp_path, delta_home):
    layout = Layout(delta_home)
    judged = register_model(layout, _run_dir(tmp_path / "a"), trainer="local", now=NOW)
    record_verdict(judged.path, True, "keystroke savings 9% beat every baseline")
    never = register_model(layout, _run_dir(tmp_path / "b"), trainer="local", now=NOW + 1)
    assert _delta("model", "promote", judged.version).exit_code == 0
    assert _delta("model", "use", never.version).exit_code == 0
    assert active_version(layout) == never.version


def test_use_none_and_rollback_from_every_state(tmp_path, delta_home):
    layout = Layout(delta_home)
    empty = _delta("model", "rollback")
    assert empty.exit_code == 1 and "nothing to roll back to" in empty.output

    a = register_model(layout, _run_dir(tmp_path / "a"), trainer="local", now=NOW).version
    b = register_model(layout, _run_dir(tmp_path / "b"), trainer="local", now=NOW + 1).version
    assert _delta("model", "promote", a).exit_code == 0
    # the only model ever served: rolling back returns to history alone
    back = _delta("model", "rollback")
    assert back.exit_code == 0 and "history alone" in back.output
    assert active_version(layout) is None
    # from history alone, rollback serves the model served last
    assert _delta("model", "rollback").exit_code == 0
    assert active_version(layout) == a

    assert _delta("model", "promote", b).exit_code == 0
    off = _delta("model", "use", "none")
    assert off.exit_code == 0 and "history alone" in off.output
    assert active_version(layout) is None
    assert _delta("model", "rollback").exit_code == 0
    assert active_version(layout) == b
    assert _delta("model", "rollback").exit_code == 0
    assert active_version(layout) is None  # before b came `use none`


def test_model_status_shows_what_the_served_model_learned_and_forget_removes_it(
    tmp_path, delta_home
):
    layout = Layout(delta_home)
    info = register_model(layout, _run_dir(tmp_path / "r"), trainer="local", now=NOW)
    result = {
        "commands": 40,
        "strategies": {"delta": {"top1": 0.2, "keystroke_savings": 0.5}},
        "model_examples": [
            {"typed": "git switch -c typing/ac", "model": "git switch -c typing/accounts",
             "history": None},
            {"typed": "cd ", "model": "cd ~/src/site", "history": "cd ~/src/ledger"},
        ],
    }  # fmt: skip
    record_verdict(info.path, True, "keystroke savings 50.0% beat every baseline", result)
    assert _delta("model", "promote", info.version).exit_code == 0
    shown = _delta("model", "status")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    at = lines.index("learned (held-back commands it completed sooner than history):")
    assert lines[at + 1 : at + 5] == [
        "  `git switch -c typing/ac` -> git switch -c typing/accounts",
        "      history alone: nothing",
        "  `cd ` -> cd ~/src/site",
        "      history alone: cd ~/src/ledger",
    ]
    assert all(len(line) <= 80 for line in lines)
    # the examples are text from the memory: forgetting it removes them with the model's copies
    forgot = _delta("memory", "forget", "typing/accounts", "--yes")
    assert forgot.exit_code == 0, forgot.output
    assert "typing/accounts" not in _delta("model", "status").output
