"""Causal attention of a whole sequence (training, scoring, prefill without a cache): query blocks against key
prefixes, with a hand-written backward pass.

Why not one einsum + softmax over [T, T] (the cache path in layers.attention): on a 2-core CPU that form spent
more time on the [B, heads, T, T] score tensor than on its matmuls: the masked upper triangle is computed
and then thrown away, autodiff makes several passes over the scores (mask select, max, exp, normalise,
sum(dP * P) in the backward) and XLA inserts layout copies of them around the einsums. Here:

- Queries are split into blocks of BLOCK rows; block i attends only keys [0, end of block i). For T = 512 and
  BLOCK = 128 that is 62.5% of the score entries; the mask still applies inside each block, so packing
  (segments) and padding behave as before. Entries above the diagonal are never allowed (the mask is causal),
  so skipping them changes nothing but a fully masked row (padding), whose uniform average now runs over
  its block's keys instead of all keys; such rows feed nothing (no real query attends a padding key).
- The softmax is not normalised on the big tensor: out = (E @ V) / l with E = exp(S - max), l = sum(E).
- The backward uses D = rowsum(dO * O), a [rows, d] reduction, instead of rowsum(dP * P) over the scores
  (FlashAttention's identity), and keeps every division on row vectors: dS = E * ((dO / l) V^T - D / l).
- Per (batch, kv head) the query rows of all heads sharing that kv head are stacked, so every product is a
  plain batched matmul; the transposes happen on the small [T, d] tensors, never on the scores.

Numerics equal the einsum path up to float rounding (fp32 parity with transformers is tested).
"""
import math
from typing import Optional

import jax
import jax.numpy as jnp

from jaxpt.models.layers import NEG_INF

BLOCK = 128  # query rows per block for T >= 512; 64 and 256 measured slower for T = 512 on CPU
SHORT_BLOCK = 64  # below 512 queries: an RL update's 128 response queries after a 64-token prompt ran 4% faster
# with two blocks of 64 (5/6 of the score entries) than with one of 128, and 32 was slower again (CPU, measured)


def _rows(x):
    """[B, G, R, C, ...] -> [B, G, R * C, ...]: one row axis, so each product has one contracting axis (with
    two, XLA on CPU copies the score-sized operand into another layout first)."""
    return x.reshape(x.shape[:2] + (-1,) + x.shape[4:])


def _forward(q, k, v, allowed):
    """q [B, G, R, C, d] (pre-scaled), k and v [B, G, S, d], allowed [B, C, S] -> (out, E, l), out and l
    [B, G, R * C, ...] float32, E [B, G, R * C, S] in the compute dtype."""
    b, g, r, c, _ = q.shape
    s = jnp.einsum("bgmd,bgsd->bgms", _rows(q), k, preferred_element_type=jnp.float32)
    # The mask as an added 0 / NEG_INF (s + NEG_INF rounds to NEG_INF: the values of a select): XLA on CPU fuses
    # the add into the score product, while a select was one more pass over the scores (~12% of the attention).
    bias = jnp.where(allowed, 0.0, NEG_INF).astype(jnp.float32)
    s = s.reshape(b, g, r, c, -1) + bias[:, None, None]
    e = _rows(jnp.exp(s - jnp.max(s, axis=-1, keepdims=True)))
    l = jnp.sum(e, axis=-1, keepdims=True)
    e = e.astype(v.dtype)  # the precision the V product uses (the compute dtype)
    o = jnp.einsum("bgms,bgsd->bgmd", e, v, preferred_element_type=jnp.float32) / l
    return o, e, l


@jax.custom_vjp
def _attend(q, k, v, allowed):
    """Softmax attention of one query block over a key prefix; shapes as in `_forward`."""
    return _forward(q, k, v, allowed)[0].reshape(q.shape).astype(q.dtype)


def _attend_fwd(q, k, v, allowed):
    o, e, l = _forward(q, k, v, allowed)
    return o.reshape(q.shape).astype(q.dtype), (q, k, v, e, l, o)


def _attend_bwd(res, do):
    q, k, v, e, l, o = res
    dt = v.dtype
    do = _rows(do).astype(jnp.float32)
    g = do / l  # dO / l: the normalisation, on the small tensor
    dd = jnp.sum(do * o, axis=-1, keepdims=True) / l  # rowsum(dP * P) / l, from [rows, d] tensors
    dp = jnp.einsum("bgmd,bgsd->bgms", g.astype(dt), v, preferred_element_type=jnp.float32)
    ds = (e.astype(jnp.float32) * (dp - dd)).astype(dt)  # masked entries have e = 0
    dq = jnp.einsum("bgms,bgsd->bgmd", ds, k, preferred_element_type=jnp.float32)
    # dK and dV are computed transposed ([d, S]: the small operand is the transposed one, 3x faster on CPU
    # than contracting the score tensor's row axis in place) and turned around afterwards.
    dk = jnp.einsum("bgmd,bgms->bgds", _rows(q), ds, preferred_element_type=jnp.float32)
    dv = jnp.einsum("bgmd,bgms->bgds", g.astype(dt), e, preferred_element_type=jnp.float32)
    return (dq.reshape(q.shape).astype(q.dtype), dk.swapaxes(2, 3).astype(k.dtype),
            dv.swapaxes(2, 3).astype(dt), None)


_attend.defvjp(_attend_fwd, _attend_bwd)


def causal_attention(q, k, v, allowed, block: Optional[int] = None):
    """q [B, T, n_h, d]; k, v [B, S, n_kv, d] with S >= T: the queries are the last T key slots (S > T: keys
    of a prefix come first); allowed [B, T, S] bool, causal (no key after its query's slot S - T + i).

    Returns [B, T, n_h, d]. `block`: query rows per block (default BLOCK, SHORT_BLOCK below 512 queries).
    """
    b, t, n_h, d = q.shape
    block = block or (BLOCK if t >= 512 else SHORT_BLOCK)
    g = k.shape[2]
    offset = k.shape[1] - t
    if offset < 0:
        raise ValueError(f"causal_attention: {k.shape[1]} keys for {t} queries")
    r = n_h // g
    # [B, G, R, T, d]: the R query heads of a kv head side by side; scaled once here (exact for d = 64, 128
    # up to one rounding), so neither the scores nor their gradient need another pass.
    qt = (q * jnp.asarray(1.0 / math.sqrt(d), q.dtype)).reshape(b, t, g, r, d).transpose(0, 2, 3, 1, 4)
    kt, vt = k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)
    outs = []
    for lo in range(0, t, block):
        hi = min(lo + block, t)
        end = offset + hi  # keys up to the block's last query slot
        outs.append(_attend(qt[:, :, :, lo:hi], kt[:, :, :end], vt[:, :, :end], allowed[:, lo:hi, :end]))
    out = outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=3)
    return out.transpose(0, 3, 1, 2, 4).reshape(b, t, n_h, d)
