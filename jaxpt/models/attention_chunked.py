"""Grouped-query attention over blocks of queries (attention_impl="chunked"): the memory of long sequences.

Full attention materialises [B, heads, T, S] float32 scores, 17 GB per layer at T = S = 12288 with 28 heads:
more than an accelerator holds, on any backend without a fused kernel (XLA on TPU and CPU). Here each block of
`block` queries attends to all keys on its own, under jax.checkpoint, so at most one block's scores are alive
in the forward and in the backward pass (0.7 GB at block 512). Every row computes exactly what the einsum
form computes for it (same operations, same order), so results match it to the last bit of each row's math.
"""
import math

import jax
import jax.numpy as jnp

NEG_INF = -1e30
BLOCK = 512


def chunked_attention(q, k, v, allowed, block: int = BLOCK):
    """q [B, T, n_h, d]; k, v [B, S, n_kv, d]; allowed [B, T, S] bool -> [B, T, n_h, d]."""
    b, t, n_h, d = q.shape
    n_kv = k.shape[2]
    rep = n_h // n_kv
    scale = 1.0 / math.sqrt(d)
    block = min(block, t)
    if t % block:  # a ragged tail: one block per query row would be slower than the plain form
        block = math.gcd(t, block)
    nb = t // block
    qb = q.reshape(b, nb, block, n_kv, rep, d).swapaxes(0, 1)  # [nb, B, block, n_kv, rep, d]
    ab = allowed.reshape(b, nb, block, allowed.shape[-1]).swapaxes(0, 1)

    @jax.checkpoint
    def one(args):
        qc, ac = args
        scores = jnp.einsum("btkrd,bskd->bkrts", qc, k, preferred_element_type=jnp.float32) * scale
        scores = jnp.where(ac[:, None, None, :, :], scores, NEG_INF)
        probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
        return jnp.einsum("bkrts,bskd->btkrd", probs, v)

    out = jax.lax.map(one, (qb, ab))  # [nb, B, block, n_kv, rep, d]
    return out.swapaxes(0, 1).reshape(b, t, n_h, d)
