"""The in-graph sampler on a params pytree: a jitted prefill, then one jitted decode function whose token
loop is lax.while_loop (one per KV-cache chunk, see SampleSettings.attn_chunks).

    state = sample(params, cfg, prompt_tokens, prompt_mask, jax.random.key(0), SampleSettings(256, 1.0))

prompt_tokens/prompt_mask [B, P] are left padded (all-zero mask rows are batch padding: done from the start).
Nothing loops in Python per token; the loops exit as soon as every row is done. The RL loop calls `sample`
directly with updated params each step: same shapes and settings, so nothing recompiles.

Compile keys are kept small on purpose: the prefill depends only on shapes, n and the cache layout (not on
temperature/top-k/top-p/EOS), and EOS ids and the pad id are traced arguments of the decode function, so
changing them reuses the compiled programs.
"""
import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxpt.models import decoder
from jaxpt.models.config import ModelConfig
from jaxpt.parallel.rules import Sharder, constrain
from jaxpt.sample.decode_step import CACHE_AXES, decode_step
from jaxpt.sample.processing import choose, is_eos
from jaxpt.sample.settings import CacheLayout, SampleSettings
from jaxpt.sample.state import SampleState


def _layer_list(params):
    """Per-layer weights as a list. A stacked (scan_layers) tree is sliced once, before the loop."""
    layers = params["layers"]
    if isinstance(layers, dict):
        n = next(iter(layers.values())).shape[0]
        return [jax.tree.map(lambda x, i=i: x[i], layers) for i in range(n)]
    return list(layers)


# Weights the decode step multiplies in the compute dtype. Cast once before the loop: with float32 master
# weights (RL) and bfloat16 compute, a cast inside the loop body would read the float32 copy every token.
_MATMUL_WEIGHTS = ("wq", "wk", "wv", "bq", "bk", "bv", "wo", "w_gate", "w_up", "w_down")


def _compute_dtype_weights(params, layers, dt):
    """(params, layers) with the matmul weights and the embedding already in `dt`: the same values the step
    would cast itself (casts are idempotent), so numerics are unchanged.

    (Fusing q/k/v and gate/up into single matmuls here was tried: no change on CPU or on an H100.)"""
    layers = [{k: (v.astype(dt) if k in _MATMUL_WEIGHTS else v) for k, v in lp.items()} for lp in layers]
    params = {k: (v.astype(dt) if k in ("embed", "lm_head") else v) for k, v in params.items() if k != "layers"}
    return params, layers


def _constrain_state(st: SampleState, sharder: Optional[Sharder]) -> SampleState:
    """Pins every array's sharding (batch over data/fsdp) so prefill outputs and decode inputs/outputs agree:
    otherwise the decode function could compile again for a different layout."""
    if sharder is None:
        return st
    rows = lambda x: constrain(x, sharder, ("batch",) + (None,) * (x.ndim - 1))  # noqa: E731
    cache = lambda x: constrain(x, sharder, CACHE_AXES)  # noqa: E731
    return st.replace(
        tokens=rows(st.tokens), logprobs=rows(st.logprobs), sampling_logprobs=rows(st.sampling_logprobs),
        k=jax.tree.map(cache, st.k), v=jax.tree.map(cache, st.v), mask=rows(st.mask),
        positions=rows(st.positions), last=rows(st.last), done=rows(st.done), lengths=rows(st.lengths),
        hidden=rows(st.hidden))


def prefill(params, cfg: ModelConfig, prompt_tokens, prompt_mask, rng, layout: CacheLayout,
            sharder: Optional[Sharder] = None) -> SampleState:
    """Runs the prompts through the decoder once and returns the loop state (no token sampled yet)."""
    b, p = prompt_tokens.shape
    n, size, n_chunks = layout.n, layout.chunk_size, layout.num_chunks
    r = b * n
    mask = prompt_mask.astype(bool)
    positions = decoder.default_positions(mask)
    cache = decoder.init_cache(cfg, b, p)
    h, cache = decoder.hidden_states(params, cfg, prompt_tokens, positions, mask.astype(jnp.int32), cache,
                                     sharder)
    rep = lambda x: jnp.repeat(x, n, axis=0) if n > 1 else x  # noqa: E731

    # Prompt caches [B, P, n_kv, d] -> sampler layout: per layer, chunk 0 = the prompt (K as [B, n_kv, d, P],
    # V as [B, n_kv, P, d]; prefilled once, then repeated for its n samples), then empty chunks for the
    # generated tokens. See decode_step for why K is stored transposed.
    def chunks(x, perm, slot_axis):
        prompt = rep(x.transpose(perm))
        shape = list(prompt.shape)
        shape[slot_axis] = size
        return (prompt,) + (jnp.zeros(shape, x.dtype),) * n_chunks

    ks, vs = cache["k"], cache["v"]
    if cfg.scan_layers:
        ks, vs = list(ks), list(vs)
    valid = rep(mask.any(axis=1))
    st = SampleState(
        tokens=jnp.zeros((r, layout.max_new_tokens), jnp.int32),
        logprobs=jnp.zeros((r, layout.max_new_tokens), jnp.float32),
        sampling_logprobs=jnp.zeros((r, layout.max_new_tokens), jnp.float32),
        k=[chunks(x, (0, 2, 3, 1), 3) for x in ks], v=[chunks(x, (0, 2, 1, 3), 2) for x in vs],
        mask=rep(jnp.pad(mask, ((0, 0), (0, size * n_chunks)))),
        positions=rep(mask.sum(axis=1).astype(jnp.int32)), last=jnp.zeros((r,), jnp.int32), done=~valid,
        lengths=jnp.zeros((r,), jnp.int32), step=jnp.zeros((), jnp.int32), rng=rng,
        hidden=rep(h[:, -1]))  # last column: every left-padded row's last prompt token
    return _constrain_state(st, sharder)


def _emit(st: SampleState, logits, eos, pad, settings: SampleSettings, **updates) -> SampleState:
    """Chooses token number `st.step` for every row from logits [R, V] and records it (pad for done rows)."""
    tok, lp, slp = choose(logits, jax.random.fold_in(st.rng, st.step), settings)
    active = ~st.done
    tok = jnp.where(active, tok, pad)
    put = lambda buf, x: jax.lax.dynamic_update_slice(buf, x[:, None], (0, st.step))  # noqa: E731
    return st.replace(
        tokens=put(st.tokens, tok), logprobs=put(st.logprobs, jnp.where(active, lp, 0.0)),
        sampling_logprobs=put(st.sampling_logprobs, jnp.where(active, slp, 0.0)), last=tok,
        done=st.done | is_eos(tok, eos), lengths=st.lengths + active.astype(jnp.int32), step=st.step + 1,
        **updates)


def decode(params, cfg: ModelConfig, state: SampleState, eos, pad, settings: SampleSettings,
           sharder: Optional[Sharder] = None) -> SampleState:
    """Samples the first token from the prefill's last hidden state, then tokens 1 .. N-1 in one
    lax.while_loop per cache chunk, each attending only the chunks filled so far.

    eos: int32 [E] ids that end a row (-1 entries are ignored); pad: int32 scalar written after the end.
    """
    layout = settings.layout()
    new, size = layout.max_new_tokens, layout.chunk_size
    first_slot = state.v[0][0].shape[2]  # the prompt bucket length: generated token t is fed at slot P + t
    params, layers = _compute_dtype_weights(params, _layer_list(params), jnp.dtype(cfg.dtype))
    state = _constrain_state(state.replace(tokens=jnp.full_like(state.tokens, pad)), sharder)  # pad if stopped
    first_logits = decoder.lm_head(params, cfg, state.hidden[:, None])[:, 0]
    state = _emit(state, first_logits, eos, pad, settings)

    for j in range(layout.num_chunks):
        end = min(1 + (j + 1) * size, new)  # steps whose fed token lands in chunk j + 1

        def cond(st, end=end):
            return (st.step < end) & ~jnp.all(st.done)

        def body(st, j=j):
            fed = st.step - 1  # index of the token fed this step (sampled last step)
            mask = jax.lax.dynamic_update_slice(st.mask, jnp.ones((st.mask.shape[0], 1), bool),
                                                (0, first_slot + fed))
            logits, ks, vs = decode_step(layers, params, cfg, st.k, st.v, mask, st.last, st.positions,
                                         j + 1, fed - j * size, sharder)
            return _emit(st, logits, eos, pad, settings, k=ks, v=vs, mask=mask, positions=st.positions + 1)

        state = jax.lax.while_loop(cond, body, state)
    return _constrain_state(state, sharder)


prefill_jit = jax.jit(prefill, static_argnames=("cfg", "layout", "sharder"))
# The state is donated: the cache buffers are reused in place by the loop and never copied per call.
decode_jit = jax.jit(decode, static_argnames=("cfg", "settings", "sharder"), donate_argnames=("state",))


def eos_array(eos_ids) -> np.ndarray:
    """EOS ids as a traced int32 array padded with -1 to a multiple of 8 (few distinct shapes)."""
    ids = list(eos_ids)
    width = max(8, -(-len(ids) // 8) * 8)
    return np.asarray(ids + [-1] * (width - len(ids)), np.int32)


def sample(params, cfg: ModelConfig, prompt_tokens, prompt_mask, rng, settings: SampleSettings,
           sharder: Optional[Sharder] = None) -> SampleState:
    """Prefill + decode on a params pytree (jitted, compiled once per shape and settings). Returns the final
    state on device; `state.tokens`, `.logprobs`, `.sampling_logprobs`, `.lengths`, `.truncated` are the
    results (see SampleState)."""
    prompt_tokens = jnp.asarray(prompt_tokens, jnp.int32)
    prompt_mask = jnp.asarray(prompt_mask, jnp.int32)
    state = prefill_jit(params, cfg, prompt_tokens, prompt_mask, rng, settings.layout(), sharder)
    static = dataclasses.replace(settings, eos_ids=(), pad_id=0)  # traced below, not part of the compile key
    return decode_jit(params, cfg, state, eos_array(settings.eos_ids), np.int32(settings.pad_id), static,
                      sharder)
