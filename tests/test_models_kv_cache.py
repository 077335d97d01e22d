"""Prefill followed by one-token decode steps gives the same logits as the full forward."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpt
from jaxpt.models import decoder


@pytest.mark.parametrize("preset,scan", [("tiny-qwen", False), ("tiny-llama", True)])
def test_prefill_then_decode_equals_full_forward(preset, scan):
    model = jaxpt.Model.from_config(preset, seed=5, scan_layers=scan)
    cfg = model.config
    rng = np.random.RandomState(0)
    ids = rng.randint(2, cfg.vocab_size, (2, 14))
    mask = np.ones_like(ids)
    mask[1, :5] = 0  # left padding in row 1
    full = np.asarray(model.logits(ids, mask))

    prompt_len = 8
    pos = np.asarray(decoder.default_positions(jnp.asarray(mask)))
    cache = decoder.init_cache(cfg, 2, 20)
    fwd = jax.jit(lambda p, t, q, s, c: decoder.forward(p, cfg, t, q, s, cache=c))
    logits, cache = fwd(model.params, ids[:, :prompt_len], pos[:, :prompt_len], mask[:, :prompt_len], cache)
    got = [np.asarray(logits)]
    for t in range(prompt_len, ids.shape[1]):
        logits, cache = fwd(model.params, ids[:, t:t + 1], pos[:, t:t + 1], mask[:, t:t + 1], cache)
        got.append(np.asarray(logits))
    got = np.concatenate(got, axis=1)
    real = mask[..., None].astype(bool)
    assert np.abs(np.where(real, got - full, 0)).max() <= 1e-5
    assert int(cache["index"]) == ids.shape[1]
    assert np.array_equal(np.asarray(cache["mask"])[:, :14], mask.astype(bool))
