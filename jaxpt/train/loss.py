"""Token log-probabilities (and entropies) from final hidden states: the LM head and the log-softmax under one
hand-written VJP. The SFT loss and the RL update both end here.

Why not `lm_head` + `logsumexp` + `take_along_axis` under autodiff: the [N, V] logits are the largest
tensors of a small model's step, and autodiff touches them many times. Its backward scatters the target
gradient into a zero [N, V] tensor (a serial scatter on CPU), adds the softmax term in another pass, and
with [B, T, V] logits XLA on CPU copies that gradient into a transposed layout for the weight product. Here
the logit gradient is one fused elementwise pass,

    dz = g_logp * (onehot(target) - p) + g_entropy * p * (mu - z),   p = exp(z - lse), mu = sum(p * z),

with the one-hot an iota comparison, and both products read it as a plain [N, V] matrix.

With `chunk` > 0 the rows are processed as T / chunk sequence chunks in a scan and the backward recomputes
each chunk's logits, so only one chunk's [B, chunk, V] logits is alive (as loss_chunk promises); without,
the forward keeps the float32 logits for the backward instead of recomputing them.
"""
import functools
from typing import Optional

import jax
import jax.numpy as jnp

from jaxpt.models.config import ModelConfig
from jaxpt.parallel.rules import Sharder, constrain

F32 = jnp.float32


def _logits(h, w, w_is_vocab_major: bool, inv_t: float, sharder):
    """h [R, H] @ w ([H, V], or [V, H] when vocab-major, e.g. a tied embedding) -> float32 [R, V]."""
    spec = "rh,vh->rv" if w_is_vocab_major else "rh,hv->rv"
    z = jnp.einsum(spec, h, w, preferred_element_type=F32)
    z = constrain(z, sharder, ("batch", "act_vocab"))
    return z * inv_t if inv_t != 1.0 else z


def _stats(z, targets, with_entropy: bool):
    """(logp, entropy or zeros, lse, mu) per row of float32 logits z [R, V]."""
    m = jnp.max(z, axis=-1)
    lse = m + jnp.log(jnp.sum(jnp.exp(z - m[:, None]), axis=-1))
    logp = jnp.take_along_axis(z, targets[:, None], axis=-1)[:, 0] - lse
    if not with_entropy:
        zero = jnp.zeros_like(lse)
        return logp, zero, lse, zero
    mu = jnp.sum(jnp.exp(z - lse[:, None]) * z, axis=-1)
    return logp, lse - mu, lse, mu


def _grad_logits(z, targets, lse, mu, g_logp, g_ent, with_entropy: bool, inv_t: float):
    """d(loss)/d(h @ w) for one chunk: one elementwise pass over z."""
    p = jnp.exp(z - lse[:, None])
    onehot = jax.lax.broadcasted_iota(jnp.int32, z.shape, 1) == targets[:, None]
    dz = g_logp[:, None] * (onehot.astype(F32) - p)
    if with_entropy:
        dz = dz + g_ent[:, None] * p * (mu[:, None] - z)
    return dz * inv_t if inv_t != 1.0 else dz


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def _head(h, w, targets, w_is_vocab_major, inv_t, with_entropy, sharder):
    """h [n, R, H] (n chunks of R rows), targets [n, R] -> (logp, entropy) [n, R] float32."""
    return _head_fwd(h, w, targets, w_is_vocab_major, inv_t, with_entropy, sharder)[0]


def _head_fwd(h, w, targets, w_is_vocab_major, inv_t, with_entropy, sharder):
    def chunk(hc, tc):
        z = _logits(hc, w, w_is_vocab_major, inv_t, sharder)
        return z, _stats(z, tc, with_entropy)

    if h.shape[0] == 1:  # one chunk: keep its logits for the backward
        z, (logp, ent, lse, mu) = chunk(h[0], targets[0])
        saved = (h, w, targets, lse[None], mu[None], z[None])
        return (logp[None], ent[None]), saved
    _, (logp, ent, lse, mu) = jax.lax.scan(lambda c, x: (c, chunk(*x)[1]), None, (h, targets))
    return (logp, ent), (h, w, targets, lse, mu, None)


def _head_bwd(w_is_vocab_major, inv_t, with_entropy, sharder, res, cts):
    h, w, targets, lse, mu, z_saved = res
    g_logp, g_ent = cts
    dt = w.dtype

    def chunk(hc, tc, lc, mc, gl, ge, z):
        if z is None:
            z = _logits(hc, w, w_is_vocab_major, inv_t, sharder)
        dz = _grad_logits(z, tc, lc, mc, gl, ge, with_entropy, inv_t).astype(dt)
        if w_is_vocab_major:
            dh = jnp.einsum("rv,vh->rh", dz, w, preferred_element_type=F32)
            dw = jnp.einsum("rv,rh->vh", dz, hc, preferred_element_type=F32)
        else:
            dh = jnp.einsum("rv,hv->rh", dz, w, preferred_element_type=F32)
            dw = jnp.einsum("rh,rv->hv", hc, dz, preferred_element_type=F32)
        return dh.astype(hc.dtype), dw

    if z_saved is not None:
        dh, dw = chunk(h[0], targets[0], lse[0], mu[0], g_logp[0], g_ent[0], z_saved[0])
        return dh[None], dw.astype(w.dtype), None

    def body(dw_acc, xs):
        dh, dw = chunk(*xs, None)
        return dw_acc + dw, dh

    dw, dh = jax.lax.scan(body, jnp.zeros(w.shape, F32), (h, targets, lse, mu, g_logp, g_ent))
    return dh, dw.astype(w.dtype), None


_head.defvjp(_head_fwd, _head_bwd)


def token_logprobs(params, cfg: ModelConfig, h, targets, *, inv_temperature: float = 1.0,
                   with_entropy: bool = False, chunk: int = 0, sharder: Optional[Sharder] = None):
    """log softmax(h @ W / temperature)[target] and (optionally) the entropy of that softmax, per position.

    h [B, T, H] final hidden states (decoder.hidden_states), targets [B, T] int. Returns (logp, entropy),
    both [B, T] float32; entropy is zeros unless with_entropy. chunk > 0 (dividing T): the LM head runs over
    T / chunk sequence chunks, each over all B rows.
    """
    dt = jnp.dtype(cfg.dtype)
    tied = cfg.tie_embeddings
    w = (params["embed"] if tied else params["lm_head"]).astype(dt)
    b, t, d = h.shape
    if chunk and chunk < t and t % chunk:
        raise ValueError(f"sequence length {t} is not a multiple of loss_chunk={chunk}")
    n = t // chunk if chunk and chunk < t else 1
    c = t // n
    # [n, B * c, ...]: chunk i holds positions [i c, (i + 1) c) of every row (rows stay split over devices).
    hs = h.astype(dt).reshape(b, n, c, d).swapaxes(0, 1).reshape(n, b * c, d)
    ts = targets.reshape(b, n, c).swapaxes(0, 1).reshape(n, b * c)
    logp, ent = _head(hs, w, ts, tied, float(inv_temperature), bool(with_entropy), sharder)
    unchunk = lambda x: x.reshape(n, b, c).swapaxes(0, 1).reshape(b, t)  # noqa: E731
    return unchunk(logp), unchunk(ent)


def nll_sums(params, cfg: ModelConfig, h, targets, weights, *, chunk: int = 0,
             sharder: Optional[Sharder] = None):
    """(sum of weighted NLL, sum of weights) of the next-token targets [B, T] under hidden states h."""
    logp, _ = token_logprobs(params, cfg, h, targets, chunk=chunk, sharder=sharder)
    return -jnp.sum(logp * weights), jnp.sum(weights)
