"""The inference engine on a tiny seeded GPT: ONNX Runtime equals PyTorch, cached and batched
decoding equal a full recompute, speculative decoding equals plain greedy, beam and top-k
obey the same rule. Real torch, real onnxruntime; ids only, no tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from delta_core.inference.backends import OnnxBackend, TorchBackend  # noqa: E402
from delta_core.inference.cache import Sequence, forward_rows  # noqa: E402
from delta_core.inference.constraint import TokenRule  # noqa: E402
from delta_core.inference.engine import Engine  # noqa: E402
from delta_core.inference.export import export_model, quantize  # noqa: E402
from delta_core.inference.speculative import ModelDrafter, PromptLookup  # noqa: E402

V, STOP = 80, 1


def _token_bytes():
    # ids 0-3 reserved (1 is the stop id); the rest spell one to three letters
    return [None] * 4 + [bytes([97 + i % 7]) * (1 + i % 3) for i in range(4, V)]


@pytest.fixture(scope="module")
def model():
    from delta_core.lm.config import GPTConfig
    from delta_core.lm.gpt import GPT

    torch.set_num_threads(1)  # two shared cores: threads only contend for tiny matmuls
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=V, block_size=64, n_layer=2, n_head=2, n_embd=32)).eval()
    with torch.no_grad():  # make the stop id likely enough that completions end
        m.wte.weight[STOP] *= 6
    return m


@pytest.fixture(scope="module")
def backends(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_model(model, path)
    return {"torch": TorchBackend(model), "onnx": OnnxBackend(path)}


@pytest.fixture(scope="module")
def rule():
    return TokenRule(_token_bytes(), {STOP})


def _prompts(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(4, V, 6).tolist()
        out.append(base + rng.integers(4, V, int(rng.integers(1, 12))).tolist() + base[:3])
    return out


def _naive_greedy(model, rule, prompt, max_new=20):
    """Full recompute of GPT.forward at every step: the reference."""
    ids, out = list(prompt), []
    for _ in range(max_new):
        with torch.no_grad():
            row = model(torch.tensor([ids])).logits[0, -1].numpy()
        tok = int(np.argmax(rule.logprobs(row, b"")))
        if tok == STOP:
            return out
        out.append(tok)
        ids.append(tok)
    return None


def test_onnx_logits_equal_pytorch_with_and_without_past(model, backends):
    rng = np.random.default_rng(1)
    ids = rng.integers(0, V, (1, 12))
    with torch.no_grad():
        ref = model(torch.from_numpy(ids)).logits.numpy()
    for be in backends.values():
        seq = Sequence(be.shape)
        first = forward_rows(be, [(seq, ids[0, :7].tolist())])[0]  # no past
        rest = forward_rows(be, [(seq, ids[0, 7:].tolist())])[0]  # with a past of 7
        got = np.concatenate([first, rest])
        assert np.abs(got - ref[0]).max() <= 1e-4, be.name
    # and the raw graphs agree with each other on a padded batch with a past
    B, T, P = 3, 4, 5
    args = (
        rng.integers(0, V, (B, T)),
        np.tile(np.arange(P, P + T), (B, 1)),
        np.ones((B, T, P + T), bool) & np.tri(T, P + T, P, dtype=bool),
        rng.standard_normal((2, 2, B, 2, P, 16)).astype(np.float32),
    )
    (lt, kt), (lo, ko) = backends["torch"].step(*args), backends["onnx"].step(*args)
    assert np.abs(lt - lo).max() <= 1e-4 and np.abs(kt - ko).max() <= 1e-4


def test_batched_rows_of_different_lengths_equal_single_rows(backends):
    be = backends["onnx"]
    prompts = _prompts(4, seed=2)
    alone = []
    for p in prompts:
        seq = Sequence(be.shape)
        forward_rows(be, [(seq, p[:-2])])
        alone.append(forward_rows(be, [(seq, p[-2:])])[0])
    seqs = [Sequence(be.shape) for _ in prompts]
    for s, p in zip(seqs, prompts, strict=True):
        forward_rows(be, [(s, p[:-2])])
    together = forward_rows(be, [(s, p[-2:]) for s, p in zip(seqs, prompts, strict=True)])
    for a, b in zip(alone, together, strict=True):
        assert np.abs(a - b).max() <= 1e-4


@pytest.mark.parametrize("name", ["torch", "onnx"])
def test_cached_greedy_equals_full_recompute(model, backends, rule, name):
    engine = Engine(backends[name], speculate=False)
    finished = 0
    for p in _prompts(8, seed=3):
        got = engine.greedy(p, rule, max_new=20)
        want = _naive_greedy(model, rule, p)
        assert (got and got.ids) == want
        finished += want is not None
    assert finished >= 2  # the comparison covered real, stopped completions


def test_speculative_output_is_identical_to_plain_greedy(backends, rule):
    be = backends["onnx"]
    plain, spec = Engine(be, speculate=False), Engine(be)
    rng = np.random.default_rng(4)
    for i, p in enumerate(_prompts(150, seed=5)):
        # half the prompts get extra draft sequences (history commands), some of them wrong
        extra = [rng.integers(4, V, 8).tolist()] if i % 2 else []
        a = plain.greedy(p, rule, max_new=20)
        b = spec.greedy(p, rule, max_new=20, extra=extra, key=str(i % 3))
        assert (a and (a.ids, round(a.logprob, 3))) == (b and (b.ids, round(b.logprob, 3)))
    assert spec.stats.drafted > 0 and spec.stats.accepted > 0
    assert spec.stats.steps < plain.stats.steps  # fewer forward passes for the same output


def test_typing_along_the_suggestion_needs_no_forward_pass(model, backends, rule):
    """The next keystrokes of a shell: the same prompt with the suggestion's first token
    typed, then the prompt grown by its first two ids (words typed as suggested). The rest
    comes back from the sequence's kept continuation, with no forward pass, and equals
    greedy decoding from scratch. (It is speculation with a free check: only a speculating
    engine keeps continuations.)"""
    engine = Engine(backends["onnx"])
    tb = _token_bytes()
    checked = 0
    for p in _prompts(12, seed=8):
        first = engine.greedy(p, rule, max_new=20, key="shell")
        if first is None or len(first.ids) < 3:
            continue
        steps = engine.stats.steps
        again = engine.greedy(p, rule, pending=tb[first.ids[0]], max_new=20, key="shell")
        grown = engine.greedy(p + first.ids[:2], rule, max_new=20, key="shell")
        assert engine.stats.steps == steps  # neither keystroke ran the model
        assert again.ids == first.ids
        assert grown.ids == first.ids[2:] == _naive_greedy(model, rule, p + first.ids[:2])
        checked += 1
    assert checked >= 2 and engine.stats.replayed > 0
    plain = Engine(backends["onnx"], speculate=False)
    p = _prompts(1, seed=8)[0]
    first = plain.greedy(p, rule, max_new=20, key="shell")
    steps = plain.stats.steps
    plain.greedy(p + first.ids[:1], rule, max_new=20, key="shell")
    assert plain.stats.steps > steps and plain.stats.replayed == 0


def test_kept_continuations_never_change_the_output(backends, rule):
    """Shells' keystrokes on one speculating engine: the prompt grows by some of the last
    suggestion's ids or by other ids, goes back to a shorter prompt, or starts anew, with
    and without a typed tail. Every completion equals plain greedy decoding."""
    be = backends["onnx"]
    spec, plain = Engine(be), Engine(be, speculate=False)
    tb = _token_bytes()
    rng = np.random.default_rng(11)
    prompts: dict[str, list[int]] = {}
    last: dict[str, list[int]] = {}
    for i in range(160):
        key = str(i % 3)
        before, done = prompts.get(key), last.get(key) or []
        r = rng.random()
        if before and done and r < 0.45:
            prompt = before + done[: int(rng.integers(0, len(done) + 1))]
        elif before and r < 0.6:
            prompt = before[: int(rng.integers(1, len(before) + 1))]
        elif before and r < 0.75:
            prompt = before + rng.integers(4, V, int(rng.integers(1, 4))).tolist()
        else:
            prompt = _prompts(1, seed=int(rng.integers(1 << 30)))[0]
        pending = b""
        if done and rng.random() < 0.3:
            pending = tb[done[0]][: int(rng.integers(1, len(tb[done[0]]) + 1))]
        a = plain.greedy(prompt, rule, pending, max_new=20)
        b = spec.greedy(prompt, rule, pending, max_new=20, key=key)
        assert (a and a.ids) == (b and b.ids), i
        prompts[key], last[key] = prompt, (b.ids if b else [])
    assert spec.stats.replayed > 0 and spec.stats.steps < plain.stats.steps


def test_model_drafter_keeps_output_identical(model, backends, rule):
    target = backends["onnx"]
    plain = Engine(target, speculate=False)
    spec = Engine(target, drafter=ModelDrafter(backends["torch"], max_draft=4))
    for p in _prompts(6, seed=6):
        a, b = plain.greedy(p, rule, max_new=16), spec.greedy(p, rule, max_new=16)
        assert (a and a.ids) == (b and b.ids)
    # the same weights draft; only reserved ids (which the rule refuses) and stops are missed
    assert spec.stats.acceptance > 0.6


def test_prompt_lookup_continues_the_longest_match():
    pl = PromptLookup(max_ngram=3, max_draft=4)
    ids = [5, 6, 7, 8, 9, 10, 2, 6, 7, 9, 11, 12, 6, 7]
    assert pl.draft(ids) == [9, 11, 12, 6]  # bigram 6 7: the most recent continuation
    assert pl.draft([1, 2, 3], extra=[[0, 2, 3, 44, 45]]) == [44, 45]
    assert pl.draft([99]) == []


def test_constraint_spells_the_pending_bytes_first(backends, rule):
    engine = Engine(backends["onnx"])
    tb = _token_bytes()
    for p in _prompts(10, seed=7):
        got = engine.greedy(p, rule, pending=b"bbc", max_new=20)
        if got is not None:
            assert b"".join(tb[t] for t in got.ids).startswith(b"bbc")
    assert engine.greedy(_prompts(1)[0], rule, pending=b"z") is None  # nothing can spell it


def test_beam_search_finds_completions_at_least_as_likely_as_greedy(backends, rule):
    engine = Engine(backends["onnx"], speculate=False)
    compared = 0
    for p in _prompts(8, seed=8):
        beams = engine.beam(p, rule, max_new=12, beams=4)
        greedy = engine.greedy(p, rule, max_new=12)
        assert [b.logprob for b in beams] == sorted((b.logprob for b in beams), reverse=True)
        assert len({tuple(b.ids) for b in beams}) == len(beams)
        if greedy is not None:
            assert beams and beams[0].logprob >= greedy.logprob - 1e-6
            compared += 1
    assert compared >= 2


def test_top_k_sampling(backends, rule):
    engine = Engine(backends["torch"], speculate=False)
    p = _prompts(1, seed=9)[0]
    greedy = engine.greedy(p, rule, max_new=20)
    assert engine.sample(p, rule, max_new=20, top_k=1, seed=0) == greedy
    samples = {
        tuple(c.ids) if c else None
        for s in range(8)
        for c in [engine.sample(p, rule, max_new=20, top_k=5, temperature=2.0, seed=s)]
    }
    assert len(samples) > 1


def test_int8_quantized_model_stays_close(model, backends, tmp_path):
    q = OnnxBackend(quantize(backends["onnx"].path, tmp_path / "model.int8.onnx"))
    assert (tmp_path / "model.int8.onnx").stat().st_mode & 0o777 == 0o600
    ids = np.array([[5, 9, 12, 40, 41]])
    seq_a, seq_b = Sequence(q.shape), Sequence(q.shape)
    a = forward_rows(backends["onnx"], [(seq_a, ids[0].tolist())])[0]
    b = forward_rows(q, [(seq_b, ids[0].tolist())])[0]
    assert np.abs(a - b).max() < 0.5 and not np.array_equal(a, b)


def test_jobs_joining_and_leaving_an_arena_batch_decode_as_alone(backends, rule):
    """Continuous batching at the engine level: jobs start at different steps, draft, finish
    and leave; slots are reused and kept packed; every output equals the job run alone."""
    from delta_core.inference.arena import Arena
    from delta_core.inference.decode import GreedyJob

    be = backends["onnx"]
    prompts = _prompts(14, seed=10)
    alone = Engine(be)
    want = [alone.greedy(p, rule, max_new=20) for p in prompts]
    arena, running, results, waiting = Arena(be.shape), [], {}, list(enumerate(prompts))
    drafter = PromptLookup()
    while waiting or running:
        if waiting:  # one job joins per step
            i, p = waiting.pop(0)
            running.append((i, GreedyJob(Sequence(be.shape), p, rule, b"", 20, drafter)))
        for i, job in [r for r in running if r[1].done]:
            results[i] = job.result
        running = [r for r in running if not r[1].done]
        rows = [(i, job, job.rows()) for i, job in running]
        small = [r for r in rows if len(r[2][0][1]) <= 16]
        for _, job, rs in rows:
            if len(rs[0][1]) > 16:  # prompts run alone, as the scheduler does
                job.advance(forward_rows(be, rs))
        if small:
            out = forward_rows(be, [r for _, _, rs in small for r in rs], arena)
            assert arena.past.shape[2] == len(small)  # packed: no free slot rides along
            for (_, job, _), logits in zip(small, out, strict=True):
                job.advance([logits])
    got = [results[i] for i in range(len(prompts))]
    assert [(g and g.ids) for g in got] == [(w and w.ids) for w in want]
    arena.release()
