"""Sampler behaviour: EOS stopping and padding, seeds, top-k/top-p limits, n samples, compile reuse."""
import dataclasses

import jax
import numpy as np
import pytest

import jaxpt
from jaxpt.sample import core
from jaxpt.sample.settings import SampleSettings, batch_bucket, length_bucket

PROMPTS = [[5, 9, 33, 2], [7] * 11, [100, 3], [40, 41, 42, 43, 44, 45]]


def lively(model, scale=8.0):
    """Random init (std 0.02) makes tiny models repeat one token; larger weights give varied sequences."""
    scaled = jax.tree_util.tree_map_with_path(
        lambda path, x: x if "norm" in jax.tree_util.keystr(path) else x * scale, model.params)
    return jaxpt.Model(model.config, scaled, model.sharder)


@pytest.fixture(scope="module")
def model():
    return lively(jaxpt.Model.from_config("tiny-llama", seed=2))


@pytest.fixture(scope="module")
def greedy(model):
    return model.generate(PROMPTS, 10, eos_ids=())


def test_buckets():
    assert [length_bucket(n) for n in (1, 16, 17, 24, 25, 33, 100)] == [16, 16, 24, 24, 32, 48, 128]
    assert [batch_bucket(n) for n in (1, 3, 4, 5)] == [1, 4, 4, 8]
    assert batch_bucket(3, multiple=8) == 8 and batch_bucket(12, multiple=8) == 16


def test_eos_stops_rows_and_pads(model, greedy):
    # Make row 0's third greedy token an EOS id: row 0 stops there, others go on unless they emit it too.
    eos = int(greedy.tokens[0, 2])
    out = model.generate(PROMPTS, 10, eos_ids=(999, eos), pad_id=0)
    for r in range(len(PROMPTS)):
        hits = np.flatnonzero(greedy.tokens[r] == eos)
        length = hits[0] + 1 if hits.size else 10
        assert out.lengths[r] == length
        assert out.truncated[r] == (hits.size == 0)
        np.testing.assert_array_equal(out.tokens[r, :length], greedy.tokens[r, :length])
        assert (out.tokens[r, length:] == 0).all() and (out.logprobs[r, length:] == 0).all()
    assert out.lengths[0] == 3 and not out.truncated[0]
    assert out.completions()[0][-1] == eos


def test_early_exit_when_all_rows_done(model, greedy):
    """Every row stops on its first token: the loop exits at once and the rest is padding."""
    first = sorted({int(t) for t in greedy.tokens[:, 0]})
    out = model.generate(PROMPTS, 10, eos_ids=first, pad_id=0)
    assert (out.lengths == 1).all() and not out.truncated.any()
    assert (out.tokens[:, 1:] == 0).all()


def test_seeds(model):
    a = model.generate(PROMPTS, 10, temperature=1.0, eos_ids=(), seed=7)
    b = model.generate(PROMPTS, 10, temperature=1.0, eos_ids=(), seed=7)
    c = model.generate(PROMPTS, 10, temperature=1.0, eos_ids=(), seed=8)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_array_equal(a.logprobs, b.logprobs)
    assert (a.tokens != c.tokens).any()


def test_top_k_1_and_tiny_top_p_equal_greedy(model, greedy):
    k1 = model.generate(PROMPTS, 10, temperature=1.0, top_k=1, eos_ids=(), seed=3)
    np.testing.assert_array_equal(k1.tokens, greedy.tokens)
    p0 = model.generate(PROMPTS, 10, temperature=1.0, top_p=1e-6, eos_ids=(), seed=3)
    np.testing.assert_array_equal(p0.tokens, greedy.tokens)
    np.testing.assert_allclose(p0.logprobs, greedy.logprobs, atol=1e-6)
    assert np.abs(p0.sampling_logprobs).max() < 1e-6  # one token left: probability 1


def test_n_samples_are_prompt_major(model, greedy):
    out = model.generate(PROMPTS, 10, temperature=1.0, n=3, eos_ids=(), seed=0)
    assert out.tokens.shape == (12, 10) and out.lengths.shape == (12,)
    for i in range(len(PROMPTS)):
        group = out.tokens[3 * i:3 * i + 3]
        assert len({tuple(row) for row in group}) > 1  # samples of one prompt differ
    # Greedy with n > 1 repeats the greedy completion of each prompt in order.
    g = model.generate(PROMPTS, 10, n=2, eos_ids=())
    np.testing.assert_array_equal(g.tokens, np.repeat(greedy.tokens, 2, axis=0))


def test_repeated_calls_do_not_recompile(model):
    compiles = []

    def listener(event, duration, **kw):
        if event in ("/jax/core/compile/backend_compile_duration", "/jax/core/compile/jaxpr_trace_duration"):
            compiles.append(event)

    model.generate(PROMPTS, 10, temperature=1.0, eos_ids=(), seed=0)  # compiled (or cached) here
    sizes = (core.prefill_jit._cache_size(), core.decode_jit._cache_size())
    params = jax.block_until_ready(jax.tree.map(lambda x: x * 1.01, model.params))  # eager ops compile
    tokens = np.ones((4, 16), np.int32)
    settings = SampleSettings(10, temperature=1.0, eos_ids=())
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for seed in range(3):
            # Different prompts, same buckets (lengths <= 16, 3-4 prompts): the same programs.
            prompts = [[seed + 2] * (3 + seed), [9, 8, 7], [11] * 14][: 3 + (seed % 2)] + [[4, 4]] * (seed % 2)
            model.generate(prompts, 10, temperature=1.0, eos_ids=(), seed=seed)
        # The pure API with new params (as the RL loop does) reuses them too.
        jax.block_until_ready(core.sample(params, model.config, tokens, tokens, jax.random.key(0), settings))
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []
    assert (core.prefill_jit._cache_size(), core.decode_jit._cache_size()) == sizes


def test_scan_layers_model_samples_the_same(model, greedy):
    from jaxpt.models.params import stack_layers

    cfg = model.config.replace(scan_layers=True)
    stacked = jaxpt.Model(cfg, stack_layers(model.params))
    out = stacked.generate(PROMPTS, 10, eos_ids=())
    np.testing.assert_array_equal(out.tokens, greedy.tokens)


def test_chunked_cache_phases_match_one_phase(model):
    """Several cache chunks (one decode loop each, attending only filled chunks) sample exactly what one
    chunk does, and stop early across phase boundaries."""
    from jaxpt.sample.sampler import left_pad

    tokens, mask = left_pad(PROMPTS, 16, 4)
    one = SampleSettings(40, temperature=1.0, attn_chunks=1, eos_ids=())
    many = SampleSettings(40, temperature=1.0, attn_chunks=4, min_attn_chunk=8, eos_ids=())
    assert one.chunks() == (40, 1) and many.chunks() == (16, 3)
    a = core.sample(model.params, model.config, tokens, mask, jax.random.key(1), one)
    b = core.sample(model.params, model.config, tokens, mask, jax.random.key(1), many)
    np.testing.assert_array_equal(np.asarray(a.tokens), np.asarray(b.tokens))
    np.testing.assert_allclose(np.asarray(a.logprobs), np.asarray(b.logprobs), atol=1e-5)
    # EOS = row 0's 20th token (in the second chunk): the same stops happen either way (eos is traced).
    eos = (int(np.asarray(a.tokens)[0, 19]),)
    a = core.sample(model.params, model.config, tokens, mask, jax.random.key(1), dataclasses.replace(one, eos_ids=eos))
    b = core.sample(model.params, model.config, tokens, mask, jax.random.key(1), dataclasses.replace(many, eos_ids=eos))
    np.testing.assert_array_equal(np.asarray(a.lengths), np.asarray(b.lengths))
    assert int(np.asarray(b.lengths)[0]) <= 20
