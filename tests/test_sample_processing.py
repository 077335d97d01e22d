"""Logits processing and the inverse-CDF categorical draw, on hand-made distributions (no model)."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxpt.sample.processing import process_logits, sample_inverse_cdf
from jaxpt.sample.settings import SampleSettings

PROBS = np.array([0.05, 0.5, 0.3, 0.15], np.float32)


def _kept(settings):
    x = np.asarray(process_logits(jnp.log(jnp.asarray(PROBS))[None], settings))[0]
    return np.isfinite(x)


def test_top_k_and_top_p_filters():
    assert _kept(SampleSettings(4, temperature=1.0, top_k=2)).tolist() == [False, True, True, False]
    # top-p keeps the smallest set reaching the mass: 0.5 < 0.6 <= 0.8.
    assert _kept(SampleSettings(4, temperature=1.0, top_p=0.6)).tolist() == [False, True, True, False]
    assert _kept(SampleSettings(4, temperature=1.0, top_p=0.5)).tolist() == [False, True, False, False]
    assert _kept(SampleSettings(4, temperature=1.0, top_p=0.81)).tolist() == [False, True, True, True]
    assert _kept(SampleSettings(4, temperature=1.0, top_k=3, top_p=0.6)).tolist() == [False, True, True, False]
    assert _kept(SampleSettings(4, temperature=0.5)).all()
    # Temperature scales logits before filtering.
    x = np.asarray(process_logits(jnp.asarray([[1.0, 2.0]]), SampleSettings(4, temperature=0.5)))
    np.testing.assert_allclose(x, [[2.0, 4.0]])


def test_inverse_cdf_draws_follow_the_distribution():
    rows = 40000
    logits = jnp.broadcast_to(jnp.log(jnp.asarray(PROBS)), (rows, 4))
    filtered = logits.at[:, 3].set(-jnp.inf)  # a filtered token must never be drawn
    draws = np.asarray(sample_inverse_cdf(logits, jax.random.key(0)))
    freq = np.bincount(draws, minlength=4) / rows
    np.testing.assert_allclose(freq, PROBS, atol=0.01)
    draws = np.asarray(sample_inverse_cdf(filtered, jax.random.key(1)))
    assert (draws != 3).all()
    np.testing.assert_allclose(np.bincount(draws, minlength=4)[:3] / rows, PROBS[:3] / PROBS[:3].sum(), atol=0.01)
