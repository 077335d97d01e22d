"""Pure SFT step functions: loss, optimizer, train state, jitted (sharded) train and eval steps. No I/O.

Loss: token-mean negative log-likelihood over response tokens, from jaxpt.train.loss (the LM head and the
log-softmax under one hand-written VJP). With `loss_chunk` > 0 the LM head and the NLL run over sequence
chunks and the backward recomputes each chunk's logits, so only one chunk's [B, c, V] logits is alive at a
time (the difference between fitting and not at V = 152K, T = 12K).

Gradient accumulation: the batch arrives as [A, rows, T]; a lax.scan sums *unnormalised* NLL gradients and
token counts over the A micro-batches and divides once at the end, so the update equals the one computed on
the whole batch at once (token-mean over all response tokens of the step).

State = {"params", "opt_state", "step"}; the step donates it and has explicit in/out shardings (when a
mesh is used), so it compiles once and updates in place.
"""
import functools
from typing import Optional

import jax
import jax.numpy as jnp
import optax

from jaxpt.models import decoder
from jaxpt.models.config import ModelConfig
from jaxpt.models.model import param_shardings
from jaxpt.models.params import init_params
from jaxpt.parallel.rules import Sharder
from jaxpt.train import loss

BATCH_KEYS = ("tokens", "positions", "segment_ids", "targets", "weights")


# ----------------------------------------------------------------------------------------------- loss
def loss_sums(params, cfg: ModelConfig, batch: dict, sharder: Optional[Sharder] = None, loss_chunk: int = 0):
    """(sum of NLL over response tokens, number of response tokens) for one [B, T] batch."""
    h, _ = decoder.hidden_states(params, cfg, batch["tokens"], batch["positions"], batch["segment_ids"],
                                 sharder=sharder)
    return loss.nll_sums(params, cfg, h, batch["targets"], batch["weights"], chunk=loss_chunk, sharder=sharder)


# ----------------------------------------------------------------------------------------------- optimizer
def make_schedule(lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine",
                  min_lr_ratio: float = 0.0):
    """Learning rate at optimizer step k (0-based): linear warm-up lr (k + 1) / W for k < W (the first
    step already moves), then cosine decay to min_lr_ratio * lr at total_steps, or constant."""
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be cosine or constant, got {schedule!r}")
    warmup = max(0, min(int(warmup_steps), int(total_steps)))
    decay_steps = max(1, int(total_steps) - warmup)

    def sched(step):
        k = jnp.asarray(step, jnp.float32)
        if schedule == "constant":
            after = jnp.asarray(lr, jnp.float32)
        else:
            progress = jnp.clip((k - warmup) / decay_steps, 0.0, 1.0)
            after = lr * (min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))
        if warmup == 0:
            return after
        return jnp.where(k < warmup, lr * (k + 1.0) / warmup, after)

    return sched


def make_optimizer(lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine",
                   min_lr_ratio: float = 0.0, b1: float = 0.9, b2: float = 0.95, eps: float = 1e-8,
                   weight_decay: float = 0.0, clip_norm: float = 1.0):
    """(optax transform, schedule): global-norm clipping then AdamW; no decay on norms and biases."""
    sched = make_schedule(lr, total_steps, warmup_steps, schedule, min_lr_ratio)
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)  # noqa: E731
    parts = [optax.clip_by_global_norm(clip_norm)] if clip_norm and clip_norm > 0 else []
    parts.append(optax.adamw(sched, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask))
    return optax.chain(*parts), sched


def optimizer_from_config(tcfg):
    """make_optimizer from a train config (ConfigDict/dict with the same key names)."""
    g = tcfg.get
    return make_optimizer(lr=float(g("lr")), total_steps=int(g("total_steps")),
                          warmup_steps=int(g("warmup_steps", 0)), schedule=g("schedule", "cosine"),
                          min_lr_ratio=float(g("min_lr_ratio", 0.0)), b1=float(g("b1", 0.9)),
                          b2=float(g("b2", 0.95)), eps=float(g("eps", 1e-8)),
                          weight_decay=float(g("weight_decay", 0.0)), clip_norm=float(g("clip_norm", 1.0)))


# ----------------------------------------------------------------------------------------------- state
def init_state(params, tx) -> dict:
    return {"params": params, "opt_state": tx.init(params), "step": jnp.zeros((), jnp.int32)}


def abstract_state(cfg: ModelConfig, tx):
    abstract_params = jax.eval_shape(functools.partial(init_params, cfg), jax.random.key(0))
    return jax.eval_shape(functools.partial(init_state, tx=tx), abstract_params)


def state_shardings(cfg: ModelConfig, tx, sharder: Optional[Sharder]):
    """NamedShardings for the whole train state (None without a mesh).

    Optimizer moments are sharded like the parameter they belong to (matched by tree-path suffix and
    shape); counters and other scalars are replicated.
    """
    if sharder is None:
        return None
    p_sh = param_shardings(cfg, sharder)
    flat_p = jax.tree_util.tree_flatten_with_path(p_sh)[0]
    by_path = {jax.tree_util.keystr(path): sh for path, sh in flat_p}
    abstract = abstract_state(cfg, tx)
    p_shapes = {jax.tree_util.keystr(path): a.shape
                for path, a in jax.tree_util.tree_flatten_with_path(abstract["params"])[0]}
    replicated = sharder.sharding(())

    def for_opt(path, leaf):
        key = jax.tree_util.keystr(path)
        for pkey, sh in by_path.items():
            if key.endswith(pkey) and p_shapes[pkey] == leaf.shape:
                return sh
        return replicated

    opt_sh = jax.tree_util.tree_map_with_path(for_opt, abstract["opt_state"])
    return {"params": p_sh, "opt_state": opt_sh, "step": replicated}


def batch_sharding(sharder: Optional[Sharder], micro: bool = True):
    """Sharding of [A, rows, T] (micro=True) or [rows, T] batch arrays: rows over the batch mesh axes."""
    if sharder is None:
        return None
    return sharder.sharding((None, "batch", "length") if micro else ("batch", "length"))


def make_init_fn(tx, shardings=None):
    """jit(params -> state), donating the params (no second copy of a large model)."""
    return jax.jit(functools.partial(init_state, tx=tx), out_shardings=shardings, donate_argnums=0)


# ----------------------------------------------------------------------------------------------- steps
def accumulated_grads(params, batch: dict, *, cfg: ModelConfig, sharder=None, loss_chunk: int = 0):
    """(token-mean gradients, token-mean loss, response-token count) over a [A, rows, T] batch."""
    grad_fn = jax.value_and_grad(lambda p, mb: loss_sums(p, cfg, mb, sharder, loss_chunk), has_aux=True)

    def micro(carry, mb):
        g_acc, s_acc, n_acc = carry
        (s, n), g = grad_fn(params, mb)
        return (jax.tree.map(jnp.add, g_acc, g), s_acc + s, n_acc + n), None

    if batch["tokens"].shape[0] == 1:
        (s, n), g = grad_fn(params, jax.tree.map(lambda x: x[0], batch))
    else:
        zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)
        (g, s, n), _ = jax.lax.scan(micro, (zeros, jnp.zeros(()), jnp.zeros(())), batch)
    denom = jnp.maximum(n, 1.0)
    grads = jax.tree.map(lambda x, p: (x / denom).astype(p.dtype), g, params)
    return grads, s / denom, n


def train_step(state: dict, batch: dict, *, cfg: ModelConfig, tx, schedule, sharder=None, loss_chunk: int = 0):
    """One optimizer step on a batch of [A, rows, T] arrays (A micro-batches). Returns (state, metrics)."""
    params = state["params"]
    grads, loss, n = accumulated_grads(params, batch, cfg=cfg, sharder=sharder, loss_chunk=loss_chunk)
    updates, opt_state = tx.update(grads, state["opt_state"], params)
    new_params = optax.apply_updates(params, updates)
    metrics = {"loss": loss, "grad_norm": optax.global_norm(grads), "lr": schedule(state["step"]),
               "loss_tokens": n}
    return {"params": new_params, "opt_state": opt_state, "step": state["step"] + 1}, metrics


def eval_step(params, batch: dict, *, cfg: ModelConfig, sharder=None, loss_chunk: int = 0):
    """(NLL sum, token count) of a [rows, T] batch: the caller sums over batches for a token mean."""
    return loss_sums(params, cfg, batch, sharder, loss_chunk)


def make_train_step(cfg: ModelConfig, tx, schedule, sharder: Optional[Sharder] = None, loss_chunk: int = 0):
    """The jitted train step: state donated, explicit shardings with a mesh (compiles once)."""
    fn = functools.partial(train_step, cfg=cfg, tx=tx, schedule=schedule, sharder=sharder,
                           loss_chunk=loss_chunk)
    if sharder is None:
        return jax.jit(fn, donate_argnums=0)
    st = state_shardings(cfg, tx, sharder)
    replicated = sharder.sharding(())
    return jax.jit(fn, in_shardings=(st, batch_sharding(sharder, micro=True)), out_shardings=(st, replicated),
                   donate_argnums=0)


def make_eval_step(cfg: ModelConfig, sharder: Optional[Sharder] = None, loss_chunk: int = 0):
    fn = functools.partial(eval_step, cfg=cfg, sharder=sharder, loss_chunk=loss_chunk)
    if sharder is None:
        return jax.jit(fn)
    replicated = sharder.sharding(())
    return jax.jit(fn, in_shardings=(param_shardings(cfg, sharder), batch_sharding(sharder, micro=False)),
                   out_shardings=(replicated, replicated))

