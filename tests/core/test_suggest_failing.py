"""A command that failed every time it ran is not suggested; the fix the memory learned for
it (the similar command the user ran next, which worked) is offered instead (issue 15)."""

from __future__ import annotations

from delta_core.context import DeltaContext
from delta_core.plugin.protocols import RecentCommands, Suggestion, SuggestQuery
from delta_core.suggest.live import SuggestEngine
from tests.conftest import make_record

CWD = "/home/ada/p"


def _ctx(delta_home, runs):
    """``runs``: (command, exit) in order, one second apart."""
    ctx = DeltaContext(delta_home)
    ctx.store.add_many(make_record(i, command=c, exit=e, cwd=CWD) for i, (c, e) in enumerate(runs))
    return ctx


def test_the_next_command_is_not_one_that_always_failed_but_its_fix(delta_home):
    # after `cd p` the user typed `gti status` (fails) three times, then ran `git status`
    runs = [("cd p", 0), ("gti status", 127), ("git status", 0), ("ls", 0)] * 3
    runs += [("cd p", 0), ("gti status", 127)] * 2 + [("cd p", 0), ("make", 0)]
    ctx = _ctx(delta_home, runs)
    engine = SuggestEngine(ctx)
    got = [s.command for s in engine.suggest(SuggestQuery("", CWD, ("cd p",), limit=3))]
    assert "gti status" not in got
    assert got[0] == "git status"
    # typed along the typo: nothing to offer (its fix does not extend what was typed)
    assert engine.suggest(SuggestQuery("gti", CWD, ("cd p",))) == []
    ctx.close()


def test_a_command_that_failed_and_later_worked_is_still_offered(delta_home):
    runs = [("cd p", 0), ("make test", 2), ("cd p", 0), ("make test", 2), ("cd p", 0)]
    runs += [("make test", 0)]
    ctx = _ctx(delta_home, runs)
    got = SuggestEngine(ctx).suggest(SuggestQuery("", CWD, ("cd p",)))
    assert [s.command for s in got] == ["make test"]
    ctx.close()


def test_the_model_proposing_an_always_failing_command_gets_its_fix(delta_home):
    runs = [("cd p", 0), ("gti status", 127), ("git status", 0)] * 3
    ctx = _ctx(delta_home, runs)
    hist = ctx.components.suggesters["history"]
    hist.attach(ctx, RecentCommands())
    model_says = [Suggestion("gti status", 0.9, "model"), Suggestion("git stash", 0.05, "model")]
    assert [s.command for s in hist.screen(model_says, "")] == ["git status", "git stash"]
    # no fix learned for a command that only ever failed: dropped
    runs2 = [("cd q", 0), ("frobnicate --all", 1)] * 3
    ctx.store.add_many(
        make_record(100 + i, command=c, exit=e, cwd=CWD) for i, (c, e) in enumerate(runs2)
    )
    assert hist.screen([Suggestion("frobnicate --all", 0.9, "model")], "f") == []
    ctx.close()
