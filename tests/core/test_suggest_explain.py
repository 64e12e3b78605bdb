"""``delta suggest --explain``: who made the suggestion, and what each side alone says."""

from __future__ import annotations

from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.cli.suggest_cmd import explained
from delta_core.plugin.protocols import Suggestion
from tests.conftest import make_record


def test_a_model_suggestion_says_what_history_alone_would_have_given() -> None:
    merged = [Suggestion("git push -u origin fix/x", 0.6, "model")]
    history = [Suggestion("git push", 0.4, "history")]
    text = explained(merged, history, merged, "in-process")
    assert text.splitlines() == [
        "git push -u origin fix/x    (the model)",
        "history alone: git push",
    ]


def test_a_history_suggestion_shows_the_model_s_own_answer() -> None:
    merged = [Suggestion("git push", 0.5, "history")]
    model = [Suggestion("git pull", 0.1, "model")]
    text = explained(merged, merged, model, "server")
    assert "git push    (history)" in text
    assert "the model alone: git pull" in text


def test_without_a_model_the_cli_says_history_alone(delta_home) -> None:
    from delta_core.context import DeltaContext

    ctx = DeltaContext(delta_home)
    ctx.store.add_many(make_record(i, command=c) for i, c in enumerate(["ls", "git status"] * 3))
    ctx.close()
    r = CliRunner().invoke(build_cli(), ["suggest", "--explain", "git "])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["git status    (history)", "no model is served: history alone"]
