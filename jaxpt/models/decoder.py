"""The decoder forward pass (pure functions of params), with an optional KV cache.

Masking is by *slot*: a query at slot t may attend key slot s when s <= t, the key is a real token, and (when
sequences are packed) both belong to the same segment. Positions (for RoPE) are explicit, so left padding and
packing work without touching the mask logic.
"""
from typing import Optional

import jax
import jax.numpy as jnp

from jaxpt.models.attention import causal_attention
from jaxpt.models.config import ModelConfig
from jaxpt.models.layers import apply_rope, attention, dense, rms_norm, rope_cos_sin, swiglu
from jaxpt.parallel.rules import Sharder, constrain

_REMAT_POLICIES = {
    "full": None,
    "dots": jax.checkpoint_policies.checkpoint_dots_with_no_batch_dims,
}


def init_cache(cfg: ModelConfig, batch: int, max_len: int, dtype=None) -> dict:
    """An empty KV cache of `max_len` slots. `mask` marks slots holding real tokens."""
    dtype = jnp.dtype(dtype or cfg.dtype)
    shape = (batch, max_len, cfg.num_kv_heads, cfg.head_dim)
    if cfg.scan_layers:
        k = jnp.zeros((cfg.num_layers,) + shape, dtype)
        v = jnp.zeros((cfg.num_layers,) + shape, dtype)
    else:
        k = [jnp.zeros(shape, dtype) for _ in range(cfg.num_layers)]
        v = [jnp.zeros(shape, dtype) for _ in range(cfg.num_layers)]
    return {"k": k, "v": v, "mask": jnp.zeros((batch, max_len), bool), "index": jnp.zeros((), jnp.int32)}


def _block(lp, x, cos, sin, allowed, kv, index, cfg: ModelConfig, sharder: Optional[Sharder]):
    dt = jnp.dtype(cfg.dtype)
    b, t, _ = x.shape
    w = lambda name: lp[name].astype(dt)  # noqa: E731  (weights cast to the compute dtype at use)

    h = rms_norm(x, lp["attn_norm"], cfg.rms_norm_eps)
    q, k, v = dense(h, w("wq")), dense(h, w("wk")), dense(h, w("wv"))
    if cfg.qkv_bias:
        q, k, v = q + w("bq"), k + w("bk"), v + w("bv")
    q = constrain(q.reshape(b, t, cfg.num_heads, cfg.head_dim), sharder, ("batch", "length", "act_heads", None))
    k = k.reshape(b, t, cfg.num_kv_heads, cfg.head_dim)
    v = v.reshape(b, t, cfg.num_kv_heads, cfg.head_dim)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    if kv is not None:
        ck, cv = kv
        k = jax.lax.dynamic_update_slice(ck, k.astype(ck.dtype), (0, index, 0, 0))
        v = jax.lax.dynamic_update_slice(cv, v.astype(cv.dtype), (0, index, 0, 0))
        new_kv = (k, v)
        k, v = k.astype(dt), v.astype(dt)
    else:
        new_kv = None
    if kv is None and cfg.attention_impl == "einsum":
        out = causal_attention(q, k, v, allowed)  # a whole sequence: the mask is causal
    else:
        out = attention(q, k, v, allowed, cfg)
    x = x + dense(out.reshape(b, t, cfg.num_heads * cfg.head_dim), w("wo"))
    x = constrain(x, sharder, ("batch", "length", "act_embed"))
    h = rms_norm(x, lp["mlp_norm"], cfg.rms_norm_eps)
    x = x + swiglu(h, w("w_gate"), w("w_up"), w("w_down"))
    x = constrain(x, sharder, ("batch", "length", "act_embed"))
    return x, new_kv


def _attention_mask(segment_ids, cache, t: int, index):
    """allowed [B, T, S] and the updated cache mask (or None without a cache)."""
    if cache is None:
        slots = jnp.arange(t)
        causal = slots[None, :, None] >= slots[None, None, :]
        if segment_ids is None:
            return jnp.broadcast_to(causal, (1, t, t)), None
        same = segment_ids[:, :, None] == segment_ids[:, None, :]
        real = segment_ids[:, None, :] != 0
        return causal & same & real, None
    b, s = cache["mask"].shape
    new = jnp.ones((b, t), bool) if segment_ids is None else segment_ids != 0
    mask = jax.lax.dynamic_update_slice(cache["mask"], new, (0, index))
    q_slots = index + jnp.arange(t)
    causal = jnp.arange(s)[None, None, :] <= q_slots[None, :, None]
    return causal & mask[:, None, :], mask


def hidden_states(params, cfg: ModelConfig, tokens, positions, segment_ids=None, cache=None,
                  sharder: Optional[Sharder] = None):
    """Final-norm hidden states [B, T, H] (compute dtype) and the updated cache (or None)."""
    dt = jnp.dtype(cfg.dtype)
    b, t = tokens.shape
    index = cache["index"] if cache is not None else None
    allowed, new_mask = _attention_mask(segment_ids, cache, t, index)
    allowed = jnp.broadcast_to(allowed, (b,) + allowed.shape[1:])
    cos, sin = rope_cos_sin(positions, cfg)
    x = jnp.take(params["embed"], tokens, axis=0).astype(dt)
    x = constrain(x, sharder, ("batch", "length", "act_embed"))

    def block(lp, x, kv):
        return _block(lp, x, cos, sin, allowed, kv, index, cfg, sharder)

    if cfg.remat != "none" and cache is None:
        block = jax.checkpoint(block, policy=_REMAT_POLICIES[cfg.remat])

    if cfg.scan_layers:
        def step(x, xs):
            lp, ck, cv = xs
            x, kv = block(lp, x, None if ck is None else (ck, cv))
            return x, kv

        xs = (params["layers"], None if cache is None else cache["k"], None if cache is None else cache["v"])
        x, kvs = jax.lax.scan(step, x, xs)
        new_k, new_v = (kvs if cache is not None else (None, None))
    else:
        new_k, new_v = [], []
        for i, lp in enumerate(params["layers"]):
            x, kv = block(lp, x, None if cache is None else (cache["k"][i], cache["v"][i]))
            if kv is not None:
                new_k.append(kv[0])
                new_v.append(kv[1])
    x = rms_norm(x, params["final_norm"], cfg.rms_norm_eps)
    new_cache = None
    if cache is not None:
        new_cache = {"k": new_k, "v": new_v, "mask": new_mask, "index": index + t}
    return x, new_cache


def lm_head(params, cfg: ModelConfig, h):
    """Hidden states -> float32 logits (tied embeddings reuse the embedding matrix)."""
    dt = jnp.dtype(cfg.dtype)
    w = params["embed"].T if cfg.tie_embeddings else params["lm_head"]
    return dense(h, w.astype(dt), preferred_element_type=jnp.float32)


def forward(params, cfg: ModelConfig, tokens, positions, segment_ids=None, cache=None,
            sharder: Optional[Sharder] = None):
    """tokens, positions [B, T] int32; segment_ids [B, T] (0 = padding) or None.

    Returns (logits [B, T, V] float32, updated cache or None).
    """
    h, new_cache = hidden_states(params, cfg, tokens, positions, segment_ids, cache, sharder)
    logits = lm_head(params, cfg, h)
    logits = constrain(logits, sharder, ("batch", "length", "act_vocab"))
    return logits, new_cache


def default_positions(attention_mask):
    """cumsum(mask) - 1, clipped at 0: left-padded rows start at position 0 on their first real token."""
    return jnp.maximum(jnp.cumsum(attention_mask.astype(jnp.int32), axis=-1) - 1, 0)
