"""The model: sizes by name, the KV-cache forward, padding ignored by the loss."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from delta_core.lm.config import GPTConfig, config_for_size  # noqa: E402
from delta_core.lm.gpt import GPT, IGNORE_INDEX  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize(
    ("size", "low", "high"), [("tiny", 0.5e6, 1.5e6), ("small", 8e6, 15e6), ("base", 50e6, 100e6)]
)
def test_sizes_by_name_have_the_advertised_parameter_counts(size, low, high):
    config = config_for_size(size, vocab_size=4096)
    assert low <= config.param_count() <= high


def test_param_count_formula_matches_the_module():
    for config in (config_for_size("tiny", 300), GPTConfig(vocab_size=50, n_layer=1, bias=True)):
        assert GPT(config).num_params() == config.param_count()


def test_unknown_size_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of tiny, small, base"):
        config_for_size("huge", 100)


def _tiny() -> GPT:
    return GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()


def test_embeddings_are_tied():
    model = _tiny()
    assert model.lm_head.weight is model.wte.weight


def test_cached_decoding_gives_the_logits_of_a_full_forward():
    model = _tiny()
    ids = torch.randint(0, 64, (3, 12))
    with torch.no_grad():
        full = model(ids).logits
        # a prompt of 5 tokens, then one token at a time, then the last 3 together
        out = model(ids[:, :5], use_cache=True)
        steps, past = [out.logits], out.past_key_values
        for t in range(5, 9):
            out = model(ids[:, t : t + 1], past_key_values=past, use_cache=True)
            steps.append(out.logits)
            past = out.past_key_values
        out = model(ids[:, 9:], past_key_values=past, use_cache=True)
        steps.append(out.logits)
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    assert out.past_key_values[0][0].shape == (3, 2, 12, 16)


def test_forward_refuses_a_sequence_longer_than_the_block():
    with pytest.raises(ValueError, match="longer than block_size 16"):
        _tiny()(torch.zeros(1, 17, dtype=torch.long))


def test_padding_targets_do_not_count_in_the_loss():
    model = _tiny()
    ids = torch.randint(0, 64, (2, 10))
    targets = torch.randint(0, 64, (2, 10))
    masked = targets.clone()
    masked[:, 6:] = IGNORE_INDEX
    with torch.no_grad():
        logits = model(ids).logits
        expected = torch.nn.functional.cross_entropy(
            logits[:, :6].reshape(-1, 64), targets[:, :6].reshape(-1)
        )
        assert torch.allclose(model(ids, masked).loss, expected, atol=1e-6)
        # only padding: a zero loss, not NaN, so one such window cannot poison a step
        all_pad = torch.full_like(targets, IGNORE_INDEX)
        assert model(ids, all_pad).loss.item() == 0.0


def test_weight_decay_only_on_matrices():
    opt = _tiny().configure_optimizer(0.1, 1e-3, (0.9, 0.95), "cpu")
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and all(p.dim() == 2 for p in decayed["params"])
    assert plain["weight_decay"] == 0.0 and all(p.dim() == 1 for p in plain["params"])
