"""Model completions always extend exactly what was typed (constrained decoding), on a real
sentencepiece tokenizer and a real (untrained, seeded) GPT: any text, any prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_core.plugin.manager import Components, make_plugin_manager
from delta_core.suggest.completer import ModelCompleter, load_tokenizer_dir
from delta_core.tokenizer.format import Turn
from delta_core.tokenizer.versions import train_tokenizer

torch = pytest.importorskip("torch")
SAMPLE = Path(__file__).parents[1] / "data" / "shell_commands_sample.txt"


@pytest.fixture(scope="module")
def completer(tmp_path_factory):
    from delta_core.lm.config import GPTConfig
    from delta_core.lm.gpt import GPT

    plugins = Components.from_manager(make_plugin_manager()).tokenizers
    root = tmp_path_factory.mktemp("tok")
    texts = SAMPLE.read_text().splitlines()[:2000]
    info = train_tokenizer(texts, plugins["sentencepiece"], root=root, vocab_size=800)
    tok = load_tokenizer_dir(info.directory, plugins)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=96, n_layer=1, n_head=2, n_embd=32))
    return ModelCompleter(model.eval(), tok)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.sampled_from([*list("gitlsmake -./|\"'é▁"), "\ue000"]), max_size=12))
def test_completion_extends_the_typed_text_exactly(completer, typed):
    got = completer.complete([Turn("git status"), Turn("ls -la", "/home/u")], "/home/u", typed)
    if got is not None:
        text, p = got
        assert text.startswith(typed) and text != typed
        assert 0.0 < p <= 1.0


def test_kv_cache_gives_the_same_answer_as_a_fresh_decoder(completer):
    hist = [Turn("make test"), Turn("git diff")]
    first = completer.complete(hist, "", "gi")
    again = completer.complete(hist, "", "git ")  # reuses the cached prompt prefix
    fresh = ModelCompleter(completer.engine.backend, completer.tok)
    assert fresh.complete(hist, "", "git ") == again
    assert first is None or first[0].startswith("gi")
