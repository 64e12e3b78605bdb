"""History suggestions from a real store: ranking by context, dead paths dropped, feedback."""

from __future__ import annotations

from delta_core.context import DeltaContext
from delta_core.memory.feedback import (
    FeedbackEvent,
    FeedbackTracker,
    feedback_summary,
    record_feedback,
    training_weights,
)
from delta_core.plugin.protocols import SuggestQuery
from delta_core.suggest.live import SuggestEngine
from delta_core.suggest.rank import paths_exist
from tests.conftest import make_record


def _engine(delta_home, commands, cwd="/home/ada/p"):
    ctx = DeltaContext(delta_home)
    ctx.store.add_many(make_record(i, command=c, cwd=cwd) for i, c in enumerate(commands))
    return ctx, SuggestEngine(ctx)


def test_previous_command_decides_between_equally_used_commands(delta_home):
    cmds = ["make build", "make test", "vim a.c", "make build", "git add .", "make test"] * 5
    ctx, engine = _engine(delta_home, cmds)
    after_vim = engine.suggest(SuggestQuery("make ", "/home/ada/p", ("vim a.c",)))
    after_add = engine.suggest(SuggestQuery("make ", "/home/ada/p", ("git add .",)))
    assert after_vim[0].command == "make build"
    assert after_add[0].command == "make test"
    # the next command on an empty prompt follows the same table
    assert engine.suggest(SuggestQuery("", "", ("vim a.c",)))[0].command == "make build"
    ctx.close()


def test_the_two_previous_commands_decide_where_the_previous_one_cannot(delta_home):
    # "make" is followed by "./a.out" after an edit and by "git commit" after a diff, equally
    # often: the live engine reads what followed each pair from the index (successors2)
    cmds = ["vim a.c", "make", "./a.out", "git diff", "make", "git commit"] * 4
    ctx, engine = _engine(delta_home, cmds)
    after_edit = engine.suggest(SuggestQuery("", "/home/ada/p", ("vim a.c", "make")))
    after_diff = engine.suggest(SuggestQuery("", "/home/ada/p", ("git diff", "make")))
    assert after_edit[0].command == "./a.out"
    assert after_diff[0].command == "git commit"
    ctx.close()


def test_every_suggestion_extends_the_prefix_and_is_never_the_prefix(delta_home):
    ctx, engine = _engine(delta_home, ["git status", "git", "git stash pop", "ls"])
    got = engine.suggest(SuggestQuery("git", limit=5))
    assert got and all(s.command.startswith("git") and s.command != "git" for s in got)
    assert engine.suggest(SuggestQuery("zzz")) == []
    ctx.close()


def test_commands_naming_missing_paths_are_dropped(delta_home, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    cmds = [f"cd {tmp_path}/gone", f"cd {real}", f"cat {tmp_path}/gone/x", "cat ./notes"] * 3
    ctx, engine = _engine(delta_home, cmds, cwd=str(tmp_path))
    got = [s.command for s in engine.suggest(SuggestQuery("c", str(tmp_path), limit=10))]
    assert got == [f"cd {real}"]
    assert paths_exist("git log --since=2.weeks", "")
    assert not paths_exist("cd nowhere-dir", str(tmp_path))
    ctx.close()


def test_feedback_is_tracked_stored_counted_and_moves_the_ranking(delta_home):
    ctx, engine = _engine(delta_home, ["git stash", "git status"] * 3)
    tr = FeedbackTracker("s")
    tr.shown("git stash", "git st")
    assert [e.kind for e in tr.ran("git status")] == ["rejected"]
    tr.shown("git status", "git st")
    assert [e.kind for e in tr.ran("git status")] == ["accepted"]
    tr.shown("git stash", "git st")
    tr.taken("git stash")
    assert [e.kind for e in tr.ran("git stash pop")] == ["edited"]
    assert tr.ran("ls") == []  # nothing shown: nothing to say
    top = engine.suggest(SuggestQuery("git st", limit=2))[0].command
    other = "git stash" if top == "git status" else "git status"
    record_feedback(ctx.store, [FeedbackEvent("bad", top)] * 3 + [FeedbackEvent("good", other)] * 3)
    assert engine.suggest(SuggestQuery("git st", limit=2))[0].command == other
    summary = feedback_summary(ctx.store)
    assert summary["bad"] == 3 and summary["good"] == 3
    weights = training_weights(ctx.store)
    assert weights[other] > 1 > weights[top]
    ctx.store.reindex()  # feedback is not derived from the shards: it survives
    assert feedback_summary(ctx.store)["good"] == 3
    ctx.close()


def test_a_word_of_the_session_completes_a_command_history_never_saw(delta_home):
    # ``git add -A`` is the habit; the file edited a moment ago was never added before
    cmds = ["git add -A", "git commit -m wip", "git push -u origin fix-login", "ls"] * 5
    ctx, engine = _engine(delta_home, cmds)
    previous = ("git status", "vim src/parse_args.py", "pytest tests/test_parse.py")
    # where history only ever had a branch name, a file of the session is not copied
    pushed = engine.suggest(SuggestQuery("git push -u origin ", "", previous, limit=5))
    assert pushed[0].command == "git push -u origin fix-login"
    assert not any(".py" in s.command for s in pushed)
    got = engine.suggest(SuggestQuery("git add ", "", previous, limit=3))
    assert {s.command for s in got} >= {"git add src/parse_args.py", "git add tests/test_parse.py"}
    typed = engine.suggest(SuggestQuery("git add s", "", previous))
    assert typed[0].command == "git add src/parse_args.py"
    # a flag or the start of a quoted message is never copied; nor on the empty prompt
    assert engine.suggest(SuggestQuery("git add -", "", previous))[0].command == "git add -A"
    assert all("parse" not in s.command for s in engine.suggest(SuggestQuery("", "", previous)))
    ctx.close()
