"""attention_impl="chunked" (query blocks) against the full einsum attention: same outputs and gradients, with
packed segments and left padding, when the block divides the length and when it does not."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpt.models import decoder
from jaxpt.models.attention_chunked import chunked_attention
from jaxpt.models.config import get_config
from jaxpt.models.layers import attention
from jaxpt.models.params import init_params


@pytest.mark.parametrize("t, block", [(24, 8), (20, 8), (16, 64)])
def test_matches_full_attention_values_and_grads(t, block):
    cfg = get_config("tiny-qwen")
    rng = np.random.default_rng(0)
    b, n_h, n_kv, d = 2, 4, 2, 16
    q = jnp.asarray(rng.normal(size=(b, t, n_h, d)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(b, t, n_kv, d)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(b, t, n_kv, d)), jnp.float32)
    seg = np.ones((b, t), np.int32)
    seg[0, t // 2:] = 2  # two packed documents in row 0
    seg[1, :3] = 0  # left padding in row 1
    causal = np.tril(np.ones((t, t), bool))
    allowed = jnp.asarray(causal[None] & (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] > 0))

    full = lambda q, k, v: attention(q, k, v, allowed, cfg)  # noqa: E731
    chunk = lambda q, k, v: chunked_attention(q, k, v, allowed, block)  # noqa: E731
    np.testing.assert_allclose(np.asarray(chunk(q, k, v)), np.asarray(full(q, k, v)), rtol=1e-6, atol=1e-6)
    loss = lambda f: lambda *a: jnp.sum(jnp.sin(f(*a)))  # noqa: E731
    g_full = jax.grad(loss(full), argnums=(0, 1, 2))(q, k, v)
    g_chunk = jax.grad(loss(chunk), argnums=(0, 1, 2))(q, k, v)
    for a, c in zip(g_full, g_chunk):
        np.testing.assert_allclose(np.asarray(c), np.asarray(a), rtol=1e-5, atol=1e-6)


def test_decoder_forward_with_chunked_attention():
    cfg = get_config("tiny-qwen")
    params = init_params(cfg, jax.random.key(0))
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, cfg.vocab_size, (2, 32)), jnp.int32)
    pos = jnp.broadcast_to(jnp.arange(32), tokens.shape)
    ref = decoder.forward(params, cfg, tokens, pos, None)[0]
    out = decoder.forward(params, cfg.replace(attention_impl="chunked"), tokens, pos, None)[0]
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-5, atol=1e-5)
