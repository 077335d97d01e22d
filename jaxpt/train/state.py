"""The train state of every stage, {"params", "opt_state", "step"}: creation, its abstract shape (for restoring a
checkpoint without allocating) and its shardings on a mesh."""
import functools
from typing import Optional

import jax
import jax.numpy as jnp

from jaxpt.models.config import ModelConfig
from jaxpt.models.model import param_shardings
from jaxpt.models.params import init_params
from jaxpt.parallel.rules import Sharder


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


def make_init_fn(tx, shardings=None):
    """jit(params -> state), donating the params (no second copy of a large model)."""
    return jax.jit(functools.partial(init_state, tx=tx), out_shardings=shardings, donate_argnums=0)
