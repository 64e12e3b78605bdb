"""Recent habits: fading follower counts that let this week's workflow outvote last year's,
blended over contexts of zero to two commands, conditioned on what is typed, and read by a
live shell from its real store in the background."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delta_core.context import DeltaContext
from delta_core.plugin.protocols import RecentCommands, SuggestQuery
from delta_core.suggest.habits import Habits, shape
from delta_core.suggest.history import MemoryHistory
from delta_core.suggest.history_suggester import HistorySuggester
from delta_core.suggest.rank import Weights, history_distribution
from tests.conftest import make_record

commands = st.sampled_from(["make", "make test", "./run", "./run --fast", "git status", "ls"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(commands, st.sampled_from(["s1", "s2"])), max_size=60),
    st.lists(commands, max_size=3),
    st.sampled_from(["", "m", "make", "./", "x"]),
)
def test_a_distribution_sums_to_one_over_commands_extending_the_prefix(runs, previous, prefix):
    habits = Habits()
    habits.add_all(runs)
    probs = habits.distribution(previous, prefix)
    ran = {c for c, _ in runs}
    assert all(c.startswith(prefix) and c != prefix and c in ran for c in probs)
    assert all(p > 0 for p in probs.values())
    if probs:
        assert sum(probs.values()) == pytest.approx(1.0)
    else:  # nothing run extends the prefix
        assert not any(c.startswith(prefix) and c != prefix for c in ran)


def test_this_weeks_follower_outvotes_last_years_more_frequent_one():
    habits = Habits(tau=50)
    for _ in range(40):  # months of "make" then "./run"
        habits.add_all([("make", ""), ("./run", ""), ("vim x.c", "")])
    for _ in range(20):  # lately "./run --fast"
        habits.add_all([("make", ""), ("./run --fast", ""), ("vim x.c", "")])
    probs = habits.distribution(["make"])
    assert max(probs, key=probs.get) == "./run --fast"
    # counts that never fade still side with the old habit: the fading is what decides
    never = Habits(tau=1e12)
    for _ in range(40):
        never.add_all([("make", ""), ("./run", ""), ("vim x.c", "")])
    for _ in range(20):
        never.add_all([("make", ""), ("./run --fast", ""), ("vim x.c", "")])
    old = never.distribution(["make"])
    assert max(old, key=old.get) == "./run"


def test_two_commands_of_context_decide_and_sessions_keep_their_own():
    habits = Habits()
    for _ in range(5):
        habits.add_all([("vim a.c", "a"), ("make", "a"), ("./a.out", "a")])
        habits.add_all([("git diff", "b"), ("make", "b"), ("git commit", "b")])
    after_edit = habits.distribution(["vim a.c", "make"])
    after_diff = habits.distribution(["git diff", "make"])
    assert max(after_edit, key=after_edit.get) == "./a.out"
    assert max(after_diff, key=after_diff.get) == "git commit"
    # interleaved sessions: "make" in b was never followed by a's "./a.out" within b
    assert after_diff.get("./a.out", 0.0) < after_diff["git commit"] / 4


def test_a_long_history_keeps_only_what_has_not_faded():
    habits = Habits(tau=20)
    habits.add_all((f"cmd {i}", "") for i in range(5000))
    assert len(habits._tables[()]) < 200  # the faded are pruned, the recent kept
    assert "cmd 4999" in habits.distribution([], "cmd")


def test_ranking_follows_the_recent_habit_over_the_all_time_count():
    hist = MemoryHistory()
    t = 0
    # months of "./run" after "make", lately "./run --fast" (and "./run" once more, last)
    runs = [["make", "./run", "ls"]] * 100 + [["make", "./run --fast", "ls"]] * 60
    for cmds in [*runs, ["make", "./run", "ls"]]:
        for c in cmds:
            t += 1
            hist.add(make_record(t, command=c, session="s", exit=0))
    q = SuggestQuery("", previous=("make",))
    lately = history_distribution(hist, q)
    all_time = history_distribution(hist, q, Weights(habits=0.0))
    assert max(lately, key=lately.get) == "./run --fast"
    assert max(all_time, key=all_time.get) == "./run"


def test_a_live_shell_reads_its_habits_from_the_store_and_adds_what_it_runs(delta_home):
    ctx = DeltaContext(delta_home)
    old = [["make", "./run", "ls"]] * 60 + [["make", "./run --fast", "ls"]] * 45
    ctx.store.add_many(
        make_record(i, command=c, session="s", exit=0)
        for i, c in enumerate(c for cs in old for c in cs)
    )
    hist = HistorySuggester()
    hist.attach(ctx, RecentCommands())
    assert hist.wait_seeded(10)
    habits = hist.view.habits
    assert habits is not None and habits.seen == len(old) * 3
    probs = habits.distribution(["make"])
    assert max(probs, key=probs.get) == "./run --fast"
    # what this shell runs from now on joins them; a record from before attach does not twice
    hist.observe(make_record(0, command="make", session="s"))
    assert habits.seen == len(old) * 3
    for c in ["make", "./run --slow"] * 60:
        hist.observe(make_record(10**6, command=c, session="t", start_ns=hist._seed_until))
    probs = habits.distribution(["make"])
    assert max(probs, key=probs.get) == "./run --slow"
    ctx.close()


def test_a_new_command_line_is_followed_as_its_kind_of_command_was():
    habits = Habits()
    for i in range(6):
        habits.add_all(
            [(f"vim notes{i}.md", ""), (f"git commit -m 'note {i}'", ""), ("git push", "")]
        )
        habits.add_all([("ls", ""), ("make", "")])
    # "git commit -m 'other'" was never run; commits were always followed by a push
    probs = habits.distribution(["git commit -m 'other'"])
    assert max(probs, key=probs.get) == "git push"
    assert shape("git commit -m 'x'") == "git commit"
    assert shape("ls -la /tmp") == "ls"
    assert shape("./run.sh fast") == "./run.sh fast"
    assert shape("") == ""
