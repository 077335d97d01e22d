"""Logical axis names -> mesh axes.

Model code names each array dimension with a logical axis ("embed", "mlp", "batch", ...). A rules table maps
those names to mesh axes, so a sharding strategy is a table, not a change to the model.
"""
import dataclasses
from typing import Optional, Sequence, Tuple, Union

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "fsdp", "tensor")

MeshAxes = Union[None, str, Tuple[str, ...]]

# FSDP over the "embed" dimension of every weight, tensor parallelism (Megatron style) over heads, MLP and
# vocab; the batch is split over data and fsdp.
DEFAULT_RULES: Tuple[Tuple[str, MeshAxes], ...] = (
    ("batch", ("data", "fsdp")),
    ("length", None),
    ("vocab", "tensor"),
    ("embed", "fsdp"),
    ("q_heads", "tensor"),
    ("kv_heads", "tensor"),
    ("mlp", "tensor"),
    ("norm", None),
    ("layers", None),
    ("act_embed", None),
    ("act_heads", "tensor"),
    ("act_mlp", "tensor"),
    ("act_vocab", "tensor"),
    ("cache_length", None),
    ("head_dim", None),
)

# Pure data parallelism: every weight replicated.
REPLICATED_RULES = tuple((name, ("data", "fsdp") if name == "batch" else None) for name, _ in DEFAULT_RULES)

RULE_SETS = {"default": DEFAULT_RULES, "replicated": REPLICATED_RULES}


def logical_to_spec(axes: Sequence[Optional[str]], rules=DEFAULT_RULES) -> PartitionSpec:
    table = dict(rules)
    out, used = [], set()
    for name in axes:
        mesh_axes = table.get(name) if name is not None else None
        if mesh_axes is not None:
            mesh_axes = (mesh_axes,) if isinstance(mesh_axes, str) else tuple(mesh_axes)
            # A mesh axis may shard only one dimension of an array.
            mesh_axes = tuple(a for a in mesh_axes if a not in used)
            used.update(mesh_axes)
            mesh_axes = mesh_axes[0] if len(mesh_axes) == 1 else (mesh_axes or None)
        out.append(mesh_axes)
    return PartitionSpec(*out)


def axis_size(mesh: Mesh, mesh_axes: MeshAxes) -> int:
    if mesh_axes is None:
        return 1
    names = (mesh_axes,) if isinstance(mesh_axes, str) else mesh_axes
    n = 1
    for a in names:
        n *= mesh.shape[a]
    return n


@dataclasses.dataclass(frozen=True)
class Sharder:
    """Mesh plus rules; hashable so it can be a static argument of jitted functions."""
    mesh: Mesh
    rules: Tuple[Tuple[str, MeshAxes], ...] = DEFAULT_RULES

    def spec(self, axes) -> PartitionSpec:
        return logical_to_spec(axes, self.rules)

    def sharding(self, axes) -> NamedSharding:
        return NamedSharding(self.mesh, self.spec(axes))

    def constrain(self, x, axes):
        """Sharding constraint on an activation (drops mesh axes that do not divide, e.g. batch 1)."""
        spec = self.spec(axes)
        fixed = [m if (m is None or x.shape[i] % axis_size(self.mesh, m) == 0) else None
                 for i, m in enumerate(spec)]
        return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, PartitionSpec(*fixed)))


def constrain(x, sharder: Optional[Sharder], axes):
    return x if sharder is None else sharder.constrain(x, axes)


def check_divisible(shapes, axes, sharder: Sharder) -> None:
    """Raises before any compile when a parameter dimension does not divide by its mesh axes.

    `shapes` and `axes` are matching pytrees (shape tuples / logical-axis tuples).
    """
    problems = []
    flat_shapes = jax.tree_util.tree_flatten_with_path(shapes, is_leaf=lambda t: isinstance(t, tuple))[0]
    flat_axes = jax.tree.leaves(axes, is_leaf=lambda t: isinstance(t, tuple))
    for (path, shape), ax in zip(flat_shapes, flat_axes):
        spec = sharder.spec(ax)
        for dim, (size, mesh_axes) in enumerate(zip(shape, spec)):
            n = axis_size(sharder.mesh, mesh_axes)
            if size % n:
                name = jax.tree_util.keystr(path)
                problems.append(f"parameter {name} dimension {dim} (size {size}, logical axis "
                                f"{ax[dim]!r}) is not divisible by mesh axes {mesh_axes} (size {n})")
    if problems:
        raise ValueError("sharding does not divide:\n  " + "\n  ".join(problems))


def batch_divisor(sharder) -> int:
    """How many ways the batch dimension is split on the mesh (1 without one)."""
    if sharder is None:
        return 1
    return axis_size(sharder.mesh, dict(sharder.rules).get("batch"))
