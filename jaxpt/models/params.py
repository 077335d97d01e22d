"""Parameter tree of the decoder: shapes, logical axes, initialisation, layout (list or stacked layers).

Layout:
    {"embed": [V, H], "layers": [per-layer dict, ...] or {name: [L, ...]} when scan_layers,
     "final_norm": [H], "lm_head": [H, V] (absent when embeddings are tied)}
Per layer: attn_norm, wq, bq, wk, bk, wv, bv, wo, mlp_norm, w_gate, w_up, w_down (biases only with qkv_bias).
Kernels are stored [in, out] so that a forward is `x @ w`.
"""
import jax
import jax.numpy as jnp

from jaxpt.models.config import ModelConfig

# Logical axes of each parameter (see jaxpt/parallel/rules.py for how they map to the mesh).
LAYER_AXES = {
    "attn_norm": ("norm",),
    "wq": ("embed", "q_heads"), "bq": ("q_heads",),
    "wk": ("embed", "kv_heads"), "bk": ("kv_heads",),
    "wv": ("embed", "kv_heads"), "bv": ("kv_heads",),
    "wo": ("q_heads", "embed"),
    "mlp_norm": ("norm",),
    "w_gate": ("embed", "mlp"), "w_up": ("embed", "mlp"), "w_down": ("mlp", "embed"),
}
GLOBAL_AXES = {"embed": ("vocab", "embed"), "final_norm": ("norm",), "lm_head": ("embed", "vocab")}


def layer_shapes(cfg: ModelConfig) -> dict:
    h, f = cfg.hidden_size, cfg.intermediate_size
    q, kv = cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim
    shapes = {"attn_norm": (h,), "wq": (h, q), "wk": (h, kv), "wv": (h, kv), "wo": (q, h),
              "mlp_norm": (h,), "w_gate": (h, f), "w_up": (h, f), "w_down": (f, h)}
    if cfg.qkv_bias:
        shapes.update(bq=(q,), bk=(kv,), bv=(kv,))
    return shapes


def global_shapes(cfg: ModelConfig) -> dict:
    shapes = {"embed": (cfg.vocab_size, cfg.hidden_size), "final_norm": (cfg.hidden_size,)}
    if not cfg.tie_embeddings:
        shapes["lm_head"] = (cfg.hidden_size, cfg.vocab_size)
    return shapes


def param_shapes(cfg: ModelConfig) -> dict:
    tree = dict(global_shapes(cfg))
    per_layer = layer_shapes(cfg)
    if cfg.scan_layers:
        tree["layers"] = {k: (cfg.num_layers,) + s for k, s in per_layer.items()}
    else:
        tree["layers"] = [dict(per_layer) for _ in range(cfg.num_layers)]
    return tree


def param_axes(cfg: ModelConfig) -> dict:
    tree = {k: GLOBAL_AXES[k] for k in global_shapes(cfg)}
    per_layer = {k: LAYER_AXES[k] for k in layer_shapes(cfg)}
    if cfg.scan_layers:
        tree["layers"] = {k: ("layers",) + a for k, a in per_layer.items()}
    else:
        tree["layers"] = [dict(per_layer) for _ in range(cfg.num_layers)]
    return tree


def is_shape(t) -> bool:
    return isinstance(t, tuple) and all(isinstance(i, int) for i in t)


def init_params(cfg: ModelConfig, key) -> dict:
    """Normal(0, 0.02) kernels and embeddings (HF's initializer_range), zero biases, unit norms.

    Call under jax.jit (see Model.from_config): eager init compiles every primitive separately.
    """
    dtype = jnp.dtype(cfg.param_dtype)
    shapes = param_shapes(cfg)
    flat, treedef = jax.tree_util.tree_flatten_with_path(shapes, is_leaf=is_shape)
    keys = jax.random.split(key, len(flat))
    leaves = []
    for (path, shape), k in zip(flat, keys):
        name = path[-1].key
        if name.endswith("norm"):
            leaves.append(jnp.ones(shape, dtype))
        elif name in ("bq", "bk", "bv"):
            leaves.append(jnp.zeros(shape, dtype))
        else:
            leaves.append((0.02 * jax.random.normal(k, shape, jnp.float32)).astype(dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)


def stack_layers(params: dict) -> dict:
    """List-of-layers layout -> stacked layout (for scan_layers)."""
    if isinstance(params["layers"], dict):
        return params
    return {**params, "layers": jax.tree.map(lambda *xs: jnp.stack(xs), *params["layers"])}


def unstack_layers(params: dict) -> dict:
    """Stacked layout -> list-of-layers layout."""
    if isinstance(params["layers"], list):
        return params
    n = next(iter(params["layers"].values())).shape[0]
    return {**params, "layers": [jax.tree.map(lambda x, i=i: x[i], params["layers"]) for i in range(n)]}


def count_params(tree) -> int:
    return int(sum(int(jnp.size(x)) if hasattr(x, "size") else 0 for x in jax.tree.leaves(tree)))
