"""Sampled tokens' logprobs equal teacher-forced logprobs from the training forward (decoder.forward)."""
import jax
import jax.numpy as jnp
import numpy as np

import jaxpt
from jaxpt.sample.processing import process_logits
from jaxpt.sample.settings import SampleSettings


def lively(model, scale=8.0):
    """Random init (std 0.02) makes tiny models repeat one token; larger weights give varied sequences."""
    scaled = jax.tree_util.tree_map_with_path(
        lambda path, x: x if "norm" in jax.tree_util.keystr(path) else x * scale, model.params)
    return jaxpt.Model(model.config, scaled, model.sharder)


def _teacher_forced(model, prompts, out):
    """Per-row [N] logprob of each generated token under the training forward on prompt + completion (one
    left-padded batch), and the full-vocab logits at those positions [R, N, V]."""
    n = out.n
    rows, masks, starts = [], [], []
    width = max(len(p) for p in prompts) + out.tokens.shape[1]
    for r, length in enumerate(out.lengths):
        seq = list(prompts[r // n]) + out.tokens[r, :length].tolist()
        pad = width - len(seq)
        rows.append([0] * pad + seq)
        masks.append([0] * pad + [1] * len(seq))
        starts.append(pad + len(prompts[r // n]))
    # model.logits is the jitted decoder.forward with positions cumsum(mask) - 1 (the training forward).
    logits = np.asarray(model.logits(np.asarray(rows), np.asarray(masks)))
    logp = np.asarray(jax.nn.log_softmax(jnp.asarray(logits), axis=-1))
    lp = np.zeros(out.tokens.shape, np.float32)
    sel = np.zeros(out.tokens.shape + (logits.shape[-1],), np.float32)
    for r, length in enumerate(out.lengths):
        for t in range(length):
            pos = starts[r] + t - 1  # the position before token t predicts it
            sel[r, t] = logits[r, pos]
            lp[r, t] = logp[r, pos, out.tokens[r, t]]
    return lp, sel


def test_logprobs_match_training_forward():
    model = lively(jaxpt.Model.from_config("tiny-qwen", seed=5), 4.0)
    prompts = [[5, 9, 33, 2], [7] * 11, [100, 3]]
    out = model.generate(prompts, 12, temperature=1.0, n=2, eos_ids=(1,), seed=3)
    lp, logits = _teacher_forced(model, prompts, out)
    valid = np.arange(12)[None, :] < out.lengths[:, None]
    np.testing.assert_allclose(np.where(valid, out.logprobs, 0), np.where(valid, lp, 0), atol=1e-5)
    assert (out.logprobs[~valid] == 0).all()
    # At temperature 1 without filtering the sampling distribution is the model's own.
    np.testing.assert_allclose(out.sampling_logprobs, out.logprobs, atol=1e-6)


def test_sampling_logprobs_are_under_the_processed_distribution():
    model = lively(jaxpt.Model.from_config("tiny-qwen", seed=5), 4.0)
    prompts = [[5, 9, 33, 2], [7] * 11]
    settings = dict(temperature=0.7, top_k=20, top_p=0.9)
    out = model.generate(prompts, 8, eos_ids=(), seed=1, **settings)
    lp, logits = _teacher_forced(model, prompts, out)
    np.testing.assert_allclose(out.logprobs, lp, atol=1e-5)
    s = SampleSettings(8, **settings)
    processed = np.asarray(process_logits(jnp.asarray(logits.reshape(-1, logits.shape[-1])), s))
    expect = np.take_along_axis(np.asarray(jax.nn.log_softmax(processed)), out.tokens.reshape(-1, 1), 1)
    np.testing.assert_allclose(out.sampling_logprobs.reshape(-1), expect[:, 0], atol=1e-5)
    # Every sampled token survived the filters (finite logprob under the processed distribution).
    assert np.isfinite(out.sampling_logprobs).all()
