"""The decoder forward pass (pure functions of params), with an optional KV cache or KV prefix.

Masking is by *slot*: a query at slot t may attend key slot s when s <= t, the key is a real token, and (when
sequences are packed) both belong to the same segment. Positions (for RoPE) are explicit, so left padding and
packing work without touching the mask logic.

Two ways to continue from earlier tokens:
- cache (decoding): a fixed-size buffer the new keys are written into (dynamic_update_slice), attended under
  an arbitrary mask (layers.attention);
- prefix (training on continuations, e.g. RL responses after a shared prompt): the earlier tokens' keys and
  values, as returned by `hidden_states(..., return_kv=True)`, are put in front of the new ones and attended
  by the blocked causal attention with its own backward pass (attention.causal_attention). No buffer of empty
  slots is carried, and gradients flow back into the prefix (autodiff adds those of all its readers).
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


def _block(lp, x, cos, sin, allowed, kv, index, cfg: ModelConfig, sharder: Optional[Sharder], prefix=None,
           return_kv: bool = False):
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
        new_kv = (k, v) if return_kv else None
        if prefix is not None:  # earlier keys first: slot s of the prefix, then these tokens
            k = jnp.concatenate([prefix[0].astype(dt), k], axis=1)
            v = jnp.concatenate([prefix[1].astype(dt), v], axis=1)
    if kv is None and cfg.attention_impl == "einsum":
        out = causal_attention(q, k, v, allowed)  # the mask is causal (queries are the last T key slots)
    else:
        out = attention(q, k, v, allowed, cfg)
    x = x + dense(out.reshape(b, t, cfg.num_heads * cfg.head_dim), w("wo"))
    x = constrain(x, sharder, ("batch", "length", "act_embed"))
    h = rms_norm(x, lp["mlp_norm"], cfg.rms_norm_eps)
    x = x + swiglu(h, w("w_gate"), w("w_up"), w("w_down"))
    x = constrain(x, sharder, ("batch", "length", "act_embed"))
    return x, new_kv


def _attention_mask(segment_ids, cache, t: int, index, prefix_mask=None):
    """allowed [B, T, S] and the updated cache mask (or None without a cache). With prefix_mask [B, Lp] (real
    prefix slots), S = Lp + T: every query may attend every real prefix key, then the causal part."""
    if cache is None:
        slots = jnp.arange(t)
        causal = slots[None, :, None] >= slots[None, None, :]
        if segment_ids is None:
            own = jnp.broadcast_to(causal, (1, t, t))
        else:
            same = segment_ids[:, :, None] == segment_ids[:, None, :]
            real = segment_ids[:, None, :] != 0
            own = causal & same & real
        if prefix_mask is None:
            return own, None
        b = prefix_mask.shape[0]
        before = jnp.broadcast_to(prefix_mask.astype(bool)[:, None, :], (b, t, prefix_mask.shape[1]))
        return jnp.concatenate([before, jnp.broadcast_to(own, (b, t, t))], axis=-1), None
    b, s = cache["mask"].shape
    new = jnp.ones((b, t), bool) if segment_ids is None else segment_ids != 0
    mask = jax.lax.dynamic_update_slice(cache["mask"], new, (0, index))
    q_slots = index + jnp.arange(t)
    causal = jnp.arange(s)[None, None, :] <= q_slots[None, :, None]
    return causal & mask[:, None, :], mask


def hidden_states(params, cfg: ModelConfig, tokens, positions, segment_ids=None, cache=None,
                  sharder: Optional[Sharder] = None, prefix: Optional[dict] = None, return_kv: bool = False):
    """Final-norm hidden states [B, T, H] (compute dtype) and the updated cache (or None).

    prefix: {"k", "v", "mask"} of earlier tokens (k/v per layer [B, Lp, n_kv, d], a list or stacked like
    the params; mask [B, Lp] real slots), attended before these tokens (no cache with it).
    return_kv (no cache): the second result is these tokens' {"k", "v", "mask"} in that prefix form.
    """
    if prefix is not None and cache is not None:
        raise ValueError("hidden_states takes a cache or a prefix, not both")
    dt = jnp.dtype(cfg.dtype)
    b, t = tokens.shape
    index = cache["index"] if cache is not None else None
    allowed, new_mask = _attention_mask(segment_ids, cache, t, index,
                                        None if prefix is None else prefix["mask"])
    allowed = jnp.broadcast_to(allowed, (b,) + allowed.shape[1:])
    cos, sin = rope_cos_sin(positions, cfg)
    x = jnp.take(params["embed"], tokens, axis=0).astype(dt)
    x = constrain(x, sharder, ("batch", "length", "act_embed"))

    def block(lp, x, pair):  # pair: the layer's keys/values from the cache or the prefix (or None)
        kv, pre = (pair, None) if cache is not None else (None, pair)
        return _block(lp, x, cos, sin, allowed, kv, index, cfg, sharder, pre, return_kv)

    if cfg.remat != "none" and cache is None:
        block = jax.checkpoint(block, policy=_REMAT_POLICIES[cfg.remat])

    src = cache if cache is not None else prefix  # per-layer keys/values read by the blocks
    if cfg.scan_layers:
        def step(x, xs):
            lp, sk, sv = xs
            return block(lp, x, None if sk is None else (sk, sv))

        xs = (params["layers"], None if src is None else src["k"], None if src is None else src["v"])
        x, kvs = jax.lax.scan(step, x, xs)
        new_k, new_v = kvs if kvs is not None else (None, None)
    else:
        new_k, new_v = [], []
        for i, lp in enumerate(params["layers"]):
            x, kv = block(lp, x, None if src is None else (src["k"][i], src["v"][i]))
            if kv is not None:
                new_k.append(kv[0])
                new_v.append(kv[1])
    x = rms_norm(x, params["final_norm"], cfg.rms_norm_eps)
    new_cache = None
    if cache is not None:
        new_cache = {"k": new_k, "v": new_v, "mask": new_mask, "index": index + t}
    elif return_kv:
        mask = jnp.ones((b, t), bool) if segment_ids is None else segment_ids != 0
        new_cache = {"k": new_k, "v": new_v, "mask": mask}
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
