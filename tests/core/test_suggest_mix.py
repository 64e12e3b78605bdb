"""History and model merged by probability: an unsure model leaves history's order alone, the
history estimate follows the previous command's latest successor and what followed the
previous two, the model's weight is fitted by maximum likelihood, and history alone beats
every baseline on a real Purdue user and a real SEA user.
"""

from __future__ import annotations

import pytest

from delta_core.learn.eval.protocol import evaluate
from delta_core.plugin.protocols import Suggestion, SuggestQuery
from delta_core.records.record import Record
from delta_core.suggest.engine import MODEL_WEIGHT, combine
from delta_core.suggest.fit import (
    BLEND_FILE,
    load_model_weight,
    mixture_weight,
    save_model_weight,
    validated_weight,
)
from delta_core.suggest.history import MemoryHistory
from delta_core.suggest.rank import Weights, history_distribution
from tests.conftest import SHARED_DATA

PURDUE = SHARED_DATA / "purdue_pu_truncated" / "USER1"
SEA = SHARED_DATA / "schonlau_sea" / "User12"


def _recs(cmds, start=0):
    return [Record(c, (start + i + 1) * 60_000_000_000) for i, c in enumerate(cmds)]


def H(cmd, p):
    return Suggestion(cmd, p, "history")


def M(cmd, p):
    return Suggestion(cmd, p, "model")


def test_an_unsure_model_leaves_sure_history_first_and_a_sure_one_leads():
    history = [H("make test", 0.8), H("make build", 0.1)]
    unsure = combine(history, M("make build", 0.3), 2, model_weight=0.5)
    assert [s.command for s in unsure] == ["make test", "make build"]
    sure = combine(history, M("make build", 0.95), 2, model_weight=0.5)
    assert [s.command for s in sure] == ["make build", "make test"]
    assert sure[0].source == "model" and sure[1].source == "history"
    # a model the fit does not trust (weight 0) changes nothing; with no history it leads
    assert combine(history, M("make build", 0.95), 2, model_weight=0.0) == history
    assert combine([], M("ls", 0.1), 3)[0].command == "ls"


def test_history_is_a_distribution_that_follows_the_latest_successor():
    hist = MemoryHistory()
    for r in _recs(["cc", "a", "b", "a", "cc", "b"]):  # after a: b then cc; b ran last
        hist.add(r)
    probs = history_distribution(hist, SuggestQuery("", previous=("a",)))
    assert sum(probs.values()) == pytest.approx(1.0)
    assert max(probs, key=probs.get) == "cc"  # a's latest successor, though b ran last
    typed = history_distribution(hist, SuggestQuery("c", previous=("a",)))
    assert typed == {"cc": pytest.approx(1.0)}


def test_a_pair_of_commands_seen_often_decides_and_one_seen_once_barely_counts():
    hist = MemoryHistory()
    # after "make": "./a.out" 4 times (always after "vim a.c"), "git commit" 4 times
    for r in _recs(["vim a.c", "make", "./a.out", "git diff", "make", "git commit"] * 4):
        hist.add(r)
    after_edit = history_distribution(hist, SuggestQuery("", previous=("vim a.c", "make")))
    assert max(after_edit, key=after_edit.get) == "./a.out"
    assert after_edit["./a.out"] > 0.5
    once = MemoryHistory()
    for r in _recs(["ls", "make", "./a.out"] + ["vim a.c", "make", "git commit"] * 4):
        once.add(r)
    # ("ls", "make") was followed once by "./a.out": in the all-time counts (the recent
    # habits aside, which trust a fresh pair more) not enough to beat four "git commit"s
    all_time = Weights(habits=0.0)
    probs = history_distribution(once, SuggestQuery("", previous=("ls", "make")), all_time)
    assert max(probs, key=probs.get) == "git commit"


def test_model_weight_is_the_maximum_likelihood_mixture(tmp_path):
    # the model gives the next command 0.9 where history gives it 0.1, and the reverse
    assert mixture_weight([0.9] * 20, [0.1] * 20) > 0.95
    assert mixture_weight([0.1] * 20, [0.9] * 20) < 0.05
    both = mixture_weight([0.9, 0.0] * 10, [0.0, 0.9] * 10)
    assert both == pytest.approx(0.5, abs=0.01)
    assert load_model_weight(tmp_path) is None
    save_model_weight(tmp_path, 0.37, 100)
    assert load_model_weight(tmp_path) == pytest.approx(0.37)
    assert (tmp_path / BLEND_FILE).stat().st_mode & 0o777 == 0o600  # private, as model files are
    (tmp_path / BLEND_FILE).write_text("{not json")
    assert load_model_weight(tmp_path) is None


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        # Purdue USER1 (Lane & Brodley), a user whose next command is best told by the
        # previous command's latest successor (match_prev_cmd): the estimate beats it too.
        (PURDUE, None),
        # SEA User12 (Schonlau, its clean first 5,000), one of the users the ranking was
        # tuned on: without the two-command context history alone lost to bigram on top-1
        # (50.2 vs 52.5 %) and KS (62.7 vs 63.2 %); with it, 74.4 % and 68.5 %.
        (SEA, 5000),
    ],
    ids=["purdue-USER1", "sea-User12"],
)
def test_history_ranking_alone_beats_every_baseline_on_a_real_user(path, clean):
    if not path.exists():
        pytest.skip("shared corpus not present")
    recs = _recs(path.read_text().split()[:clean])
    cut = int(len(recs) * 0.8)
    s = evaluate(recs[:cut], recs[cut : cut + 1000])["strategies"]
    delta = s.pop("delta")
    for name, base in s.items():
        assert delta["top1"] > base["top1"], name
        assert delta["keystroke_savings"] > base["keystroke_savings"], name


def test_validation_gives_the_model_only_the_weight_top1_shows_it_earns():
    history = [H("a", 0.6)]
    model = M("b", 0.5)  # b leads the merged list from a weight of 0.75 on (ties: model)

    def events(b_count, n=40):
        return [(history, model, "b" if i < b_count else "a") for i in range(n)]

    assert validated_weight(events(30), prior=0.3) == pytest.approx(0.75)  # b: 30 of 40
    # a tie: the model earns nothing, whatever the likelihood fit said
    assert validated_weight(events(20), prior=0.9) == pytest.approx(0.05)
    assert validated_weight(events(5), prior=0.9) == pytest.approx(0.05)  # a: 35 of 40


class _Scripted:
    """A stand-in model for the weight fit alone (the unit under test is the fit, not a
    model): it completes every prefix with ``answer(prefix)`` at probability ``p``."""

    reach = 1000
    rerank = 0

    def __init__(self, answer, p):
        self.answer, self.p = answer, p

    def complete(self, turns, cwd, typed):
        got = self.answer(typed)
        return (got, self.p) if got and got.startswith(typed) and got != typed else None


def test_the_typed_weight_is_the_one_that_saves_most_keys():
    from delta_core.suggest.fit import fit_typed_weight, load_typed_weight

    # history knows "git commit -m wip" well; the held-out commands are new messages
    before = _recs(["git commit -m wip", "ls"] * 10)
    heldout = _recs([f"git commit -m fix-{i}" for i in range(8)], 100)
    future = iter(r.command for r in heldout)
    state = {"cmd": next(future)}

    def oracle(typed):  # right about each held-out command once it sees its start
        if not state["cmd"].startswith(typed):
            state["cmd"] = next(future, state["cmd"])
        return state["cmd"]

    assert fit_typed_weight(_Scripted(oracle, 0.9), before, heldout) > 0.5
    # a model always wrong, where history would be right: kept out once something is typed
    known = _recs(["git commit -m wip", "ls"] * 4, 100)
    assert fit_typed_weight(_Scripted(lambda t: t + "zzz", 0.9), before, known) == 0.0
    # one that changes nothing either way (here it never answers): the default weight stays
    silent = _Scripted(lambda t: None, 0.9)
    assert fit_typed_weight(silent, before, heldout) == MODEL_WEIGHT
    assert load_typed_weight(SHARED_DATA / "no-such-model") is None
