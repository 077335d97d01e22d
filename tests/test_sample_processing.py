"""Logits processing and the inverse-CDF categorical draw, on hand-made distributions (no model)."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxpt.sample.processing import first_argmax, process_logits, sample_inverse_cdf
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
    draws = np.asarray(sample_inverse_cdf(logits, jax.random.key(0))[0])
    freq = np.bincount(draws, minlength=4) / rows
    np.testing.assert_allclose(freq, PROBS, atol=0.01)
    draws = np.asarray(sample_inverse_cdf(filtered, jax.random.key(1))[0])
    assert (draws != 3).all()
    np.testing.assert_allclose(np.bincount(draws, minlength=4)[:3] / rows, PROBS[:3] / PROBS[:3].sum(), atol=0.01)


def test_two_level_draws_cross_vocabulary_blocks():
    # 300 entries: three search blocks, the last one partial. Mass sits at both sides of each block edge and
    # in the padded tail; zero-mass (filtered) entries right at the edges must never be drawn.
    probs = np.zeros(300)
    probs[[0, 127, 129, 255, 256, 299]] = [0.1, 0.2, 0.15, 0.05, 0.3, 0.2]
    logits = jnp.broadcast_to(jnp.log(jnp.asarray(probs, jnp.float32)), (60000, 300))
    draws = np.asarray(sample_inverse_cdf(logits, jax.random.key(3))[0])
    freq = np.bincount(draws, minlength=300) / len(draws)
    np.testing.assert_allclose(freq, probs, atol=0.01)
    assert set(np.unique(draws)) <= {0, 127, 129, 255, 256, 299}


def test_first_argmax_takes_the_first_of_ties():
    x = jnp.asarray([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [-jnp.inf, -jnp.inf, 0.0, -1.0]])
    np.testing.assert_array_equal(np.asarray(first_argmax(x)), [1, 0, 2])
    np.testing.assert_array_equal(np.asarray(first_argmax(x)), np.argmax(np.asarray(x), axis=-1))
    # A diverged row (NaN logits) still yields a token id inside the vocabulary.
    assert 0 <= int(first_argmax(jnp.asarray([[jnp.nan, 1.0, 2.0, 0.0]]))[0]) < 4
