"""Pure RL step functions (no I/O): response logprobs / entropy of the trainer and the policy update.

A batch row is [left-padded prompt (Lp) | response (N)]: tokens/attn [B, Lp+N]; the logits at positions
Lp-1 .. Lp+N-2 score response tokens 0 .. N-1 (only those positions go through the LM head). The update
takes a mini-batch as [A, rows, ...] (A micro-batches, gradient accumulation in a lax.scan). Per-token losses
are aggregated with the *mini-batch's* normalisers, so the accumulated gradient equals the one of the whole
mini-batch at once. State = {"params", "opt_state", "step"} as in SFT (jaxpt.train.sft_step); the update
donates it and has explicit in/out shardings with a mesh, so it compiles once.
"""
import functools
from typing import Optional

import jax
import jax.numpy as jnp
import optax

from jaxpt.models import decoder
from jaxpt.models.config import ModelConfig
from jaxpt.models.model import param_shardings
from jaxpt.parallel.rules import Sharder
from jaxpt.rl.losses import LossConfig, normalizers, policy_loss
from jaxpt.train import sft_step

# Per-row keys of a training batch (besides tokens/attn and per-token arrays).
TOKEN_KEYS = ("mask", "old_logp", "ref_logp")
ROW_KEYS = ("adv", "reward", "correct", "off", "sft")
BATCH_KEYS = ("tokens", "attn") + TOKEN_KEYS + ROW_KEYS


def _logp_entropy(logits, targets, with_entropy: bool):
    logits = logits.astype(jnp.float32)
    lse = jax.nn.logsumexp(logits, axis=-1)
    logp = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0] - lse
    if not with_entropy:
        return logp, jnp.zeros_like(logp)
    probs = jnp.exp(logits - lse[..., None])
    entropy = lse - jnp.sum(probs * logits, axis=-1)
    return logp, entropy


def response_logprobs(params, cfg: ModelConfig, tokens, attn, num_response: int, temperature: float = 1.0,
                      sharder: Optional[Sharder] = None, with_entropy: bool = True, chunk: int = 0):
    """(logp [B, N], entropy [B, N]) of the response tokens (last N columns) under logits / temperature."""
    attn = attn.astype(jnp.int32)
    positions = decoder.default_positions(attn)
    h, _ = decoder.hidden_states(params, cfg, tokens, positions, attn, sharder=sharder)
    total = tokens.shape[1]
    start = total - num_response
    h = h[:, start - 1:total - 1]
    targets = tokens[:, start:]
    inv_t = 1.0 / float(temperature)

    def head(hc, tc):
        logits = decoder.lm_head(params, cfg, hc)
        if inv_t != 1.0:
            logits = logits * inv_t
        return _logp_entropy(logits, tc, with_entropy)

    if not chunk or chunk >= num_response:
        return head(h, targets)
    if num_response % chunk:
        raise ValueError(f"max_new_tokens={num_response} is not a multiple of loss_chunk={chunk}")
    b, n, d = h.shape
    hs = h.reshape(b, n // chunk, chunk, d).swapaxes(0, 1)
    ts = targets.reshape(b, n // chunk, chunk).swapaxes(0, 1)
    _, (lp, ent) = jax.lax.scan(lambda c, x: (c, jax.checkpoint(head)(*x)), None, (hs, ts))
    return lp.swapaxes(0, 1).reshape(b, n), ent.swapaxes(0, 1).reshape(b, n)


def logprob_step(params, tokens, attn, *, cfg: ModelConfig, num_response: int, temperature: float,
                 sharder=None, chunk: int = 0):
    """Logprobs (no entropy) for old-logprob recomputation and the frozen reference."""
    return response_logprobs(params, cfg, tokens, attn, num_response, temperature, sharder,
                             with_entropy=False, chunk=chunk)[0]


def update_step(state: dict, batch: dict, *, cfg: ModelConfig, loss_cfg: LossConfig, tx, schedule,
                temperature: float = 1.0, sharder=None, with_entropy: bool = True, chunk: int = 0):
    """One optimizer update on a mini-batch of [A, rows, ...] arrays. Returns (state, metrics).

    metrics: loss, pg_loss, grad_norm, lr, and token means (clip_frac, entropy, kl, logprob_gap, approx_kl,
    ratio, ...) over the mini-batch's loss tokens (gap/approx_kl over on-policy tokens).
    """
    params = state["params"]
    num_response = batch["mask"].shape[-1]
    norm = normalizers(batch["mask"].reshape(-1, num_response))
    need_entropy = with_entropy or loss_cfg.entropy_coef != 0.0 or loss_cfg.name == "srft"

    def loss_fn(p, mb):
        logp, ent = response_logprobs(p, cfg, mb["tokens"], mb["attn"], num_response, temperature, sharder,
                                      with_entropy=need_entropy, chunk=chunk)
        b = {k: mb[k] for k in TOKEN_KEYS + ROW_KEYS if k in mb}
        b.update(logp=logp, entropy=ent)
        return policy_loss(b, loss_cfg, norm)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    num_micro = batch["tokens"].shape[0]
    if num_micro == 1:
        (loss, sums), grads = grad_fn(params, jax.tree.map(lambda x: x[0], batch))
    else:
        def micro(carry, mb):
            g_acc, l_acc, s_acc = carry
            (l, s), g = grad_fn(params, mb)
            return (jax.tree.map(jnp.add, g_acc, g), l_acc + l, jax.tree.map(jnp.add, s_acc, s)), None

        zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
        first = jax.tree.map(lambda x: x[0], batch)
        sums0 = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                             jax.eval_shape(lambda: grad_fn(params, first)[0][1]))
        (grads, loss, sums), _ = jax.lax.scan(micro, (zeros, jnp.zeros(()), sums0), batch)
    grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
    grad_norm = optax.global_norm(grads)
    updates, opt_state = tx.update(grads, state["opt_state"], params)
    new_params = optax.apply_updates(params, updates)
    tokens = jnp.maximum(sums["tokens"], 1.0)
    on_tokens = jnp.maximum(sums["on_tokens"], 1.0)
    metrics = {"loss": loss, "pg_loss": sums["pg_loss"], "grad_norm": grad_norm, "lr": schedule(state["step"]),
               "loss_tokens": sums["tokens"], "on_tokens": sums["on_tokens"]}
    for k, v in sums.items():
        if k.endswith("_sum"):
            denom = on_tokens if k in ("logprob_gap_sum", "approx_kl_sum") else tokens
            metrics[k[:-4]] = v / denom
    return {"params": new_params, "opt_state": opt_state, "step": state["step"] + 1}, metrics


# ----------------------------------------------------------------------------------------------- builders
def batch_sharding(sharder: Optional[Sharder], micro: bool):
    """Rows over the batch mesh axes; [A, rows, ...] (micro) or [rows, ...]. Same spec for every rank >= 1."""
    if sharder is None:
        return None
    return sharder.sharding((None, "batch") if micro else ("batch",))


def make_update_fn(cfg: ModelConfig, loss_cfg: LossConfig, tx, schedule, sharder: Optional[Sharder] = None,
                   temperature: float = 1.0, with_entropy: bool = True, chunk: int = 0):
    fn = functools.partial(update_step, cfg=cfg, loss_cfg=loss_cfg, tx=tx, schedule=schedule,
                           temperature=temperature, sharder=sharder, with_entropy=with_entropy, chunk=chunk)
    if sharder is None:
        return jax.jit(fn, donate_argnums=0)
    st = sft_step.state_shardings(cfg, tx, sharder)
    return jax.jit(fn, in_shardings=(st, batch_sharding(sharder, True)), out_shardings=(st, sharder.sharding(())),
                   donate_argnums=0)


def make_logprob_fn(cfg: ModelConfig, num_response: int, temperature: float, sharder: Optional[Sharder] = None,
                    chunk: int = 0):
    fn = functools.partial(logprob_step, cfg=cfg, num_response=num_response, temperature=temperature,
                           sharder=sharder, chunk=chunk)
    if sharder is None:
        return jax.jit(fn)
    rows = batch_sharding(sharder, False)
    return jax.jit(fn, in_shardings=(param_shardings(cfg, sharder), rows, rows), out_shardings=rows)
