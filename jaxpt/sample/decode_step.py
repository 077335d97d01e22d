"""One-token decode step with a sampler-specific, chunked KV-cache layout.

Why not `decoder.forward` with its cache: its cache is [B, S, n_kv, d], and XLA on CPU then transposes
(copies) every layer's whole cache each step so the attention contraction has (batch, kv_head) leading: 2.4x
slower attention, measured. Here each layer's cache is a tuple of chunks (chunk 0 holds the prompt, the
others the generated tokens), K stored transposed [B, n_kv, d, C_i] and V as [B, n_kv, C_i, d]: both
contractions then read their operand in the layout a matrix product wants (transposed K: 30% faster
attention on CPU, measured), the new token's K/V is one in-place dynamic_update_slice, and a step attends
only the chunks filled so far (a static prefix of the tuple: no slicing copies). Numerics follow
`decoder._block` (on CPU up to float rounding: the softmax is normalised after the V product, see
`_attend`), so greedy output and logprobs match the training forward.
"""
import math
from typing import Optional, Sequence

import jax
import jax.numpy as jnp

from jaxpt.models.config import ModelConfig
from jaxpt.models.decoder import lm_head
from jaxpt.models.layers import NEG_INF, apply_rope, rms_norm, rope_cos_sin, swiglu
from jaxpt.parallel.rules import Sharder, constrain

CACHE_AXES = ("batch", "kv_heads", None, None)


def _on_cpu(sharder: Optional[Sharder]) -> bool:
    device = sharder.mesh.devices.flat[0] if sharder is not None else jax.devices()[0]
    return device.platform == "cpu"


def _attend(q, k_chunks: Sequence, v_chunks: Sequence, allowed, dt, split_softmax: bool):
    """q [B, n_h, d]; K chunks [B, n_kv, d, C_i] (transposed); V chunks [B, n_kv, C_i, d];
    allowed [B, sum C_i] -> [B, n_h * d].

    split_softmax (used on CPU): the softmax over all chunks without joining them: one max over the
    per-chunk maxima, then per chunk exp(score - max), its sum and its weighted V; the sum of the parts is
    divided by the total mass once at the end. Joining the scores and slicing the probabilities back into
    chunks costs two copies per layer and step, about 15% of a CPU decode step (measured). On accelerators
    the joined form is kept: it is fewer kernels, and per-kernel launch cost dominates decode there (the
    H100 numbers in bench/results were measured with this form, before K was stored transposed)."""
    b, n_h, d = q.shape
    n_kv = k_chunks[0].shape[1]
    qg = q.reshape(b, n_kv, n_h // n_kv, d)
    scale = 1.0 / math.sqrt(d)
    scores = [jnp.einsum("bkrd,bkds->bkrs", qg, kc.astype(dt), preferred_element_type=jnp.float32)
              for kc in k_chunks]
    if not split_softmax:
        joined = jnp.where(allowed[:, None, None, :], jnp.concatenate(scores, axis=-1) * scale, NEG_INF)
        probs = jax.nn.softmax(joined, axis=-1).astype(dt)
        out, start = None, 0
        for vc in v_chunks:
            part = jnp.einsum("bkrs,bksd->bkrd", probs[..., start:start + vc.shape[2]], vc.astype(dt))
            out = part if out is None else out + part
            start += vc.shape[2]
        return out.reshape(b, n_h * d)
    start = 0
    for i, kc in enumerate(k_chunks):
        c = kc.shape[3]
        scores[i] = jnp.where(allowed[:, None, None, start:start + c], scores[i] * scale, NEG_INF)
        start += c
    peak = scores[0].max(axis=-1, keepdims=True)
    for s in scores[1:]:
        peak = jnp.maximum(peak, s.max(axis=-1, keepdims=True))
    out, mass = None, None
    for s, vc in zip(scores, v_chunks):
        e = jnp.exp(s - peak)
        part = jnp.einsum("bkrs,bksd->bkrd", e.astype(dt), vc.astype(dt), preferred_element_type=jnp.float32)
        out = part if out is None else out + part
        mass = e.sum(axis=-1, keepdims=True) if mass is None else mass + e.sum(axis=-1, keepdims=True)
    return (out / mass).astype(dt).reshape(b, n_h * d)


def decode_step(layers, params, cfg: ModelConfig, ks, vs, mask, tokens, positions, chunk: int, offset,
                sharder: Optional[Sharder] = None):
    """Feeds tokens [B] at positions [B] into slot `offset` (int32 scalar) of cache chunk `chunk` (static).

    `layers`: per-layer parameter list (already unstacked); ks, vs: per layer, a tuple of chunks
    (K [B, n_kv, d, C_i], V [B, n_kv, C_i, d]); mask [B, S] marks real slots over all chunks (the caller
    has marked the new slot).
    Attends chunks 0..chunk only. Returns (logits [B, V] float32, new ks, new vs).
    """
    dt = jnp.dtype(cfg.dtype)
    b = tokens.shape[0]
    split = _on_cpu(sharder)
    attend_len = sum(c.shape[2] for c in vs[0][:chunk + 1])
    allowed = mask[:, :attend_len]
    cos, sin = rope_cos_sin(positions[:, None], cfg)  # [B, 1, d/2]
    x = jnp.take(params["embed"], tokens, axis=0).astype(dt)[:, None, :]  # [B, 1, H]
    x = constrain(x, sharder, ("batch", "length", "act_embed"))
    new_ks, new_vs = [], []
    for lp, kcs, vcs in zip(layers, ks, vs):
        w = lambda name: lp[name].astype(dt)  # noqa: E731
        h = rms_norm(x, lp["attn_norm"], cfg.rms_norm_eps)
        q, k, v = h @ w("wq"), h @ w("wk"), h @ w("wv")
        if cfg.qkv_bias:
            q, k, v = q + w("bq"), k + w("bk"), v + w("bv")
        q = apply_rope(q.reshape(b, 1, cfg.num_heads, cfg.head_dim), cos, sin)
        k = apply_rope(k.reshape(b, 1, cfg.num_kv_heads, cfg.head_dim), cos, sin)
        v = v.reshape(b, 1, cfg.num_kv_heads, cfg.head_dim)
        # [B, 1, n_kv, d] -> [B, n_kv, d, 1] / [B, n_kv, 1, d]: tiny transposes of the new entry only.
        kc = jax.lax.dynamic_update_slice(kcs[chunk], k.transpose(0, 2, 3, 1).astype(kcs[chunk].dtype),
                                          (0, 0, 0, offset))
        vc = jax.lax.dynamic_update_slice(vcs[chunk], v.transpose(0, 2, 1, 3).astype(vcs[chunk].dtype),
                                          (0, 0, offset, 0))
        kcs = tuple(kcs[:chunk]) + (constrain(kc, sharder, CACHE_AXES),) + tuple(kcs[chunk + 1:])
        vcs = tuple(vcs[:chunk]) + (constrain(vc, sharder, CACHE_AXES),) + tuple(vcs[chunk + 1:])
        new_ks.append(kcs)
        new_vs.append(vcs)
        out = _attend(q[:, 0], kcs[:chunk + 1], vcs[:chunk + 1], allowed, dt, split)[:, None, :]
        x = x + out @ w("wo")
        x = constrain(x, sharder, ("batch", "length", "act_embed"))
        h = rms_norm(x, lp["mlp_norm"], cfg.rms_norm_eps)
        x = x + swiglu(h, w("w_gate"), w("w_up"), w("w_down"))
        x = constrain(x, sharder, ("batch", "length", "act_embed"))
    x = rms_norm(x, params["final_norm"], cfg.rms_norm_eps)
    logits = lm_head(params, cfg, x)[:, 0]
    return constrain(logits, sharder, ("batch", "act_vocab")), new_ks, new_vs
