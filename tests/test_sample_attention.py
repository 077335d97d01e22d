"""The sampler's chunked decode attention against a NumPy softmax attention over the joined cache."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpt.sample.decode_step import _attend


def _reference(q, k, v, allowed):
    """q [B, n_h, d]; k, v [B, S, n_kv, d]; allowed [B, S] -> [B, n_h * d] (float64)."""
    b, n_h, d = q.shape
    rep = n_h // k.shape[2]
    k = np.repeat(k, rep, axis=2).astype(np.float64)
    v = np.repeat(v, rep, axis=2).astype(np.float64)
    scores = np.einsum("bhd,bshd->bhs", q, k) / np.sqrt(d)
    scores = np.where(allowed[:, None, :], scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return np.einsum("bhs,bshd->bhd", probs, v).reshape(b, n_h * d)


@pytest.mark.parametrize("split_softmax", [True, False])
def test_chunked_attention_matches_joined_softmax(split_softmax):
    rng = np.random.default_rng(0)
    b, n_h, n_kv, d, sizes = 3, 4, 2, 8, (5, 4, 4)
    q = rng.normal(size=(b, n_h, d)).astype(np.float32) * 2
    k = rng.normal(size=(b, sum(sizes), n_kv, d)).astype(np.float32)
    v = rng.normal(size=(b, sum(sizes), n_kv, d)).astype(np.float32)
    allowed = rng.random((b, sum(sizes))) < 0.6
    allowed[:, 0] = True
    allowed[1, 5:] = False  # a row whose later chunks are all masked (not yet filled)
    edges = np.cumsum((0,) + sizes)
    k_chunks = [jnp.asarray(k[:, s:e].transpose(0, 2, 3, 1)) for s, e in zip(edges, edges[1:])]  # [B, kv, d, C]
    v_chunks = [jnp.asarray(v[:, s:e].transpose(0, 2, 1, 3)) for s, e in zip(edges, edges[1:])]  # [B, kv, C, d]
    got = jax.jit(_attend, static_argnums=(4, 5))(jnp.asarray(q), k_chunks, v_chunks, jnp.asarray(allowed),
                                                 jnp.float32, split_softmax)
    np.testing.assert_allclose(np.asarray(got), _reference(q, k, v, allowed), rtol=1e-5, atol=1e-5)
