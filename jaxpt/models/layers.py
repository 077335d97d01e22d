"""Building blocks of the decoder: RMSNorm, RoPE (with Llama 3 scaling), grouped-query attention over a KV
cache, dense products, SwiGLU. (Whole-sequence causal attention for training is in attention.py.)"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxpt.models.config import ModelConfig

NEG_INF = -1e30  # finite, so a fully masked row (padding) gives a uniform softmax instead of NaN


def rms_norm(x, weight, eps):
    """Statistics in float32, then cast back before scaling by the weight (as HF's Llama/Qwen2 RMSNorm)."""
    xf = x.astype(jnp.float32)
    xf = xf * jax.lax.rsqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + eps)
    return weight.astype(x.dtype) * xf.astype(x.dtype)


def rope_inv_freq(cfg: ModelConfig) -> np.ndarray:
    """Inverse frequencies, with the configured scaling applied (computed in numpy: a constant)."""
    d = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    if cfg.rope_type == "linear":
        inv = inv / cfg.rope_factor
    elif cfg.rope_type == "llama3":
        # Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between.
        low_wavelen = cfg.rope_original_max_position / cfg.rope_low_freq_factor
        high_wavelen = cfg.rope_original_max_position / cfg.rope_high_freq_factor
        wavelen = 2 * math.pi / inv
        smooth = (cfg.rope_original_max_position / wavelen - cfg.rope_low_freq_factor) / (
            cfg.rope_high_freq_factor - cfg.rope_low_freq_factor)
        scaled = np.where(wavelen > low_wavelen, inv / cfg.rope_factor, inv)
        mid = (wavelen <= low_wavelen) & (wavelen >= high_wavelen)
        scaled = np.where(mid, (1 - smooth) * inv / cfg.rope_factor + smooth * inv, scaled)
        inv = scaled
    return inv.astype(np.float32)


def rope_cos_sin(positions, cfg: ModelConfig):
    """positions [B, T] -> cos, sin [B, T, head_dim // 2] in float32."""
    angles = positions.astype(jnp.float32)[..., None] * jnp.asarray(rope_inv_freq(cfg))
    return jnp.cos(angles), jnp.sin(angles)


def apply_rope(x, cos, sin):
    """x [B, T, heads, d]: rotates the two halves of the head dimension (HF's rotate_half convention)."""
    half = x.shape[-1] // 2
    xf = x.astype(jnp.float32)
    x1, x2 = xf[..., :half], xf[..., half:]
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    return jnp.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1).astype(x.dtype)


def attention(q, k, v, allowed, cfg: ModelConfig):
    """Grouped-query attention under any mask (used with a KV cache; whole sequences go through
    attention.causal_attention, which skips the causal upper triangle).

    q [B, T, n_h, d]; k, v [B, S, n_kv, d]; allowed [B, T, S] bool. Returns [B, T, n_h, d].
    """
    b, t, n_h, d = q.shape
    n_kv = k.shape[2]
    rep = n_h // n_kv
    scale = 1.0 / math.sqrt(d)
    if cfg.attention_impl == "dot_product":
        return jax.nn.dot_product_attention(q, k, v, mask=allowed[:, None, :, :], scale=scale)
    if cfg.attention_impl == "chunked":
        from jaxpt.models.attention_chunked import chunked_attention

        return chunked_attention(q, k, v, allowed)
    qg = q.reshape(b, t, n_kv, rep, d)
    scores = jnp.einsum("btkrd,bskd->bkrts", qg, k, preferred_element_type=jnp.float32) * scale
    scores = jnp.where(allowed[:, None, None, :, :], scores, NEG_INF)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    out = jnp.einsum("bkrts,bskd->btkrd", probs, v)
    return out.reshape(b, t, n_h, d)


def dense(x, w, **kw):
    """x [..., in] @ w [in, out] as one 2-D product over the flattened leading axes.

    With [B, T, in] kept 3-D, the weight gradient contracts two axes (B and T) and XLA on CPU then copies
    the [B, T, out] output gradient into a transposed layout first; flattened, it contracts one axis and
    reads both operands where they are (those copies were ~10% of a CPU train step, measured)."""
    lead = x.shape[:-1]
    return jnp.matmul(x.reshape(-1, x.shape[-1]), w, **kw).reshape(lead + (w.shape[-1],))


def swiglu(x, w_gate, w_up, w_down):
    gate = dense(x, w_gate)
    up = dense(x, w_up)
    return dense(jax.nn.silu(gate) * up, w_down)
