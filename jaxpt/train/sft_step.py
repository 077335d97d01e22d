"""Pure SFT step functions: loss, jitted (sharded) train and eval steps. No I/O. (The optimizer and the train
state: jaxpt.train.optimizer, jaxpt.train.state.)

Loss: token-mean negative log-likelihood over response tokens, from jaxpt.train.loss (the LM head and the
log-softmax under one hand-written VJP). With `loss_chunk` > 0 the LM head and the NLL run over sequence
chunks and the backward recomputes each chunk's logits, so only one chunk's [B, c, V] logits is alive at a
time (the difference between fitting and not at V = 152K, T = 12K).

Gradient accumulation (jaxpt.train.grad_accum, shared with RL): the batch arrives as [A, rows, T]; a lax.scan
sums *unnormalised* NLL gradients and token counts over the A micro-batches and divides once at the end, so the
update equals the one computed on the whole batch at once (token-mean over all response tokens of the step).

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
from jaxpt.parallel.rules import Sharder
from jaxpt.train import loss
from jaxpt.train.grad_accum import accumulate
# The optimizer and the train state live in their own modules; re-exported for the callers of this one.
from jaxpt.train.optimizer import make_optimizer, make_schedule  # noqa: F401
from jaxpt.train.state import abstract_state, init_state, make_init_fn, state_shardings  # noqa: F401

BATCH_KEYS = ("tokens", "positions", "segment_ids", "targets", "weights")


# ----------------------------------------------------------------------------------------------- loss
def loss_sums(params, cfg: ModelConfig, batch: dict, sharder: Optional[Sharder] = None, loss_chunk: int = 0):
    """(sum of NLL over response tokens, number of response tokens) for one [B, T] batch."""
    h, _ = decoder.hidden_states(params, cfg, batch["tokens"], batch["positions"], batch["segment_ids"],
                                 sharder=sharder)
    return loss.nll_sums(params, cfg, h, batch["targets"], batch["weights"], chunk=loss_chunk, sharder=sharder)


# ----------------------------------------------------------------------------------------------- sharding
def batch_sharding(sharder: Optional[Sharder], micro: bool = True):
    """Sharding of [A, rows, T] (micro=True) or [rows, T] batch arrays: rows over the batch mesh axes."""
    if sharder is None:
        return None
    return sharder.sharding((None, "batch", "length") if micro else ("batch", "length"))


# ----------------------------------------------------------------------------------------------- steps
def accumulated_grads(params, batch: dict, *, cfg: ModelConfig, sharder=None, loss_chunk: int = 0):
    """(token-mean gradients, token-mean loss, response-token count) over a [A, rows, T] batch."""
    def grad_fn(p, mb):
        (s, n), g = jax.value_and_grad(lambda q: loss_sums(q, cfg, mb, sharder, loss_chunk), has_aux=True)(p)
        return g, (s, n)

    g, (s, n) = accumulate(grad_fn, params, batch)
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

