"""Device mesh with axes (data, fsdp, tensor) built from config, and multi-host start-up."""
import logging
from typing import Optional

import jax
import numpy as np
from jax.sharding import AxisType, Mesh

from jaxpt.parallel.rules import MESH_AXES, RULE_SETS, Sharder


def make_mesh(data: int = -1, fsdp: int = 1, tensor: int = 1, devices=None) -> Mesh:
    """A mesh over all (or the given) devices. One axis may be -1: it takes the remaining devices."""
    devices = list(devices if devices is not None else jax.devices())
    sizes = [data, fsdp, tensor]
    if sizes.count(-1) > 1:
        raise ValueError("at most one mesh axis may be -1")
    known = int(np.prod([s for s in sizes if s != -1]))
    if -1 in sizes:
        if len(devices) % known:
            raise ValueError(f"{len(devices)} devices do not divide by the fixed mesh axes {sizes}")
        sizes[sizes.index(-1)] = len(devices) // known
    if int(np.prod(sizes)) != len(devices):
        raise ValueError(f"mesh (data, fsdp, tensor) = {tuple(sizes)} needs {int(np.prod(sizes))} devices, "
                         f"have {len(devices)}")
    arr = np.asarray(devices).reshape(sizes)
    # Auto axes: shardings are propagated by the compiler from in/out shardings and constraints.
    return Mesh(arr, MESH_AXES, axis_types=(AxisType.Auto,) * 3)


def sharder_from_config(cfg) -> Optional[Sharder]:
    """cfg: the `mesh` section (data, fsdp, tensor, rules). None when the mesh is a single device (nothing to
    shard); a mesh that does not match the devices fails, naming the sizes."""
    if cfg is None:
        return None
    sizes = (cfg.get("data", -1), cfg.get("fsdp", 1), cfg.get("tensor", 1))
    if sizes == (1, 1, 1):  # asked for one device: the default device, nothing to shard
        return None
    try:
        mesh = make_mesh(*sizes)
    except ValueError as e:
        raise ValueError(f"mesh.data/fsdp/tensor = {sizes}: {e}") from None
    if mesh.size == 1:
        return None
    return Sharder(mesh, RULE_SETS[cfg.get("rules", "default")])


def initialize_distributed(coordinator_address: Optional[str], num_processes: Optional[int],
                           process_id: Optional[int], cpu_collectives: str = "gloo") -> None:
    """Starts jax.distributed when asked (multi-host TPU pods, multi-node GPU, or CPU processes in tests).

    On TPU pods and SLURM/Open MPI clusters jax can discover everything itself: pass coordinator_address="auto".
    """
    if not coordinator_address:
        return
    if jax.config.jax_platforms in (None, "", "cpu") and cpu_collectives:
        # CPU collectives across processes need an explicit implementation.
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    if coordinator_address == "auto":
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                                   process_id=process_id)
    logging.info("jax.distributed: process %d of %d, %d local / %d global devices", jax.process_index(),
                 jax.process_count(), jax.local_device_count(), jax.device_count())
