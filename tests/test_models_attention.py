"""Blocked causal attention (jaxpt.models.attention) against a plain float64 softmax attention in torch: packed
segments, padding and grouped-query heads, block sizes that do and do not divide the length; values and
gradients of q, k and v."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxpt.models.attention import causal_attention  # noqa: E402

B, T, N_H, N_KV, D = 2, 23, 4, 2, 8


def _case():
    rng = np.random.RandomState(0)
    q, k, v, ct = (rng.randn(B, T, n, D).astype(np.float32) for n in (N_H, N_KV, N_KV, N_H))
    seg = np.ones((B, T), np.int32)
    seg[0, 9:] = 2  # two packed documents
    seg[0, 20:] = 0  # trailing padding
    seg[1, :4] = 0  # left padding
    slots = np.arange(T)
    allowed = (slots[:, None] >= slots[None, :]) & (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] != 0)
    ct = ct * (seg != 0)[:, :, None, None]  # padding rows feed nothing in the model
    return q, k, v, ct, allowed, seg


def _torch_reference(q, k, v, ct, allowed):
    tq, tk, tv = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (q, k, v))
    rep = N_H // N_KV
    kk, vv = tk.repeat_interleave(rep, dim=2), tv.repeat_interleave(rep, dim=2)
    s = torch.einsum("bthd,bshd->bhts", tq, kk) / np.sqrt(D)
    s = s.masked_fill(~torch.tensor(allowed)[:, None], -1e30)
    out = torch.einsum("bhts,bshd->bthd", torch.softmax(s, -1), vv)
    (out * torch.tensor(ct, dtype=torch.float64)).sum().backward()
    return out.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()


@pytest.mark.parametrize("block", [4, 7, 23, 64])
def test_matches_plain_softmax_attention(block):
    q, k, v, ct, allowed, seg = _case()

    def f(q, k, v):
        out = causal_attention(q, k, v, jnp.asarray(allowed), block=block)
        return jnp.sum(out * ct), out

    (_, out), grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True))(q, k, v)
    want_out, *want_grads = _torch_reference(q, k, v, ct, allowed)
    real = (seg != 0)[:, :, None, None]
    np.testing.assert_allclose(np.asarray(out) * real, want_out * real, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, want_grads):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("block", [4, 11, 64])
def test_prefix_keys_match_plain_softmax_attention(block):
    """S > T (decoder.hidden_states' prefix: an RL response after its shared prompt's keys): the queries are the
    last T key slots; every real prefix key is visible, then the causal part; values and gradients as the plain
    softmax over the same mask."""
    rng = np.random.RandomState(1)
    p, t = 6, 11
    q, ct = (rng.randn(B, t, N_H, D).astype(np.float32) for _ in range(2))
    k, v = (rng.randn(B, p + t, N_KV, D).astype(np.float32) for _ in range(2))
    prefix_real = np.ones((B, p), bool)
    prefix_real[1, :2] = False  # a left-padded prompt
    own = np.ones((B, t), bool)
    own[0, 8:] = False  # a short response: trailing padding
    slots = np.arange(t)
    causal = (slots[:, None] >= slots[None, :]) & own[:, None, :] & own[:, :, None]
    allowed = np.concatenate([np.broadcast_to(prefix_real[:, None, :], (B, t, p)), causal], axis=-1)
    ct = ct * own[:, :, None, None]

    def f(q, k, v):
        out = causal_attention(q, k, v, jnp.asarray(allowed), block=block)
        return jnp.sum(out * ct), out

    (_, out), grads = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True))(q, k, v)
    want_out, *want_grads = _torch_reference(q, k, v, ct, allowed)
    real = own[:, :, None, None]
    np.testing.assert_allclose(np.asarray(out) * real, want_out * real, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, want_grads):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_fewer_keys_than_queries_is_an_error():
    q = jnp.zeros((1, 4, N_H, D))
    k = jnp.zeros((1, 3, N_KV, D))
    with pytest.raises(ValueError, match="3 keys for 4 queries"):
        causal_attention(q, k, k, jnp.ones((1, 4, 3), bool))
