"""Done-when check on real data, on CPU: a small model trained on the train history only beats
every baseline on next-command top-1 and keystroke savings under the fixed protocol.

Data: Schonlau SEA User2 (command names, clean part), read from the shared corpus when it is
there (it is never copied into the repository): 4,000 train commands, the next 1,000 test.
Training is deterministic on CPU (fixed seed), so the figures are the same on every run.
"""

from __future__ import annotations

import math

import pytest

from delta_core.learn.eval.model import train_eval_model
from delta_core.learn.eval.protocol import evaluate
from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.records.record import Record
from delta_core.suggest.completer import ModelCompleter
from delta_core.suggest.fit import load_model_weight
from delta_core.tokenizer.format import Turn
from tests.conftest import SHARED_DATA

torch = pytest.importorskip("torch")
USER = SHARED_DATA / "schonlau_sea" / "User2"


@pytest.mark.slow
@pytest.mark.skipif(not USER.exists(), reason="shared SEA corpus not present")
def test_small_model_beats_every_baseline_on_sea_user(tmp_path):
    torch.set_num_threads(1)
    cmds = USER.read_text().split()[:5000]
    recs = [Record(c, (i + 1) * 60_000_000_000) for i, c in enumerate(cmds)]
    train, test = recs[:4000], recs[4000:]
    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    model_dir = train_eval_model(train, tmp_path, plugins, model_size="tiny", max_steps=600)
    completer = ModelCompleter.from_dir(model_dir, plugins)
    # fitted on the train history's held-out tenth (the default would also lie in (0, 1))
    assert load_model_weight(model_dir) == completer.model_weight
    assert 0.0 < completer.model_weight < 1.0
    res = evaluate(train, test, completer)["strategies"]
    delta = res.pop("delta")
    for name, base in res.items():
        assert delta["top1"] > base["top1"], name
        assert delta["keystroke_savings"] > base["keystroke_savings"], name
    assert delta["perplexity"] < 3
    # a completion's probability is given what was typed, as history's is: more than the
    # whole command's probability when the prefix rules others out
    turns = [Turn(r.command) for r in recs[:4000]]
    checked = 0
    for typed in ("l", "c", "v", "m"):
        got = completer.complete(turns, "", typed)
        if got is not None:
            nll, _ = completer.nll(turns, "", got[0])
            assert got[1] > math.exp(-nll), typed
            checked += 1
    assert checked  # at least one typed prefix got a completion to check
