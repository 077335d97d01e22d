"""One process of the two-process jax.distributed test (CPU, gloo collectives, 2 devices per process)."""
import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def main(port: int, process_id: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxpt.parallel.mesh import initialize_distributed, make_mesh
    from jaxpt.parallel.rules import Sharder

    initialize_distributed(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    assert jax.process_count() == 2 and jax.device_count() == 4, (jax.process_count(), jax.device_count())

    import jaxpt
    from jaxpt.models import decoder
    from jaxpt.models.model import param_shardings

    sharder = Sharder(make_mesh(data=2, fsdp=2, tensor=1))
    model = jaxpt.Model.from_config("tiny-qwen", seed=7, mesh=sharder)  # same seed: same weights everywhere
    cfg = model.config
    rng = np.random.RandomState(0)
    tokens = rng.randint(0, cfg.vocab_size, (8, 16)).astype(np.int32)  # the global batch, known to both
    d_sh = sharder.sharding(("batch", "length"))
    local = tokens[process_id * 4:(process_id + 1) * 4]  # each process feeds its half of the batch
    g_tokens = jax.make_array_from_process_local_data(d_sh, local, tokens.shape)

    def loss(params, t):
        pos = jnp.broadcast_to(jnp.arange(t.shape[1]), t.shape)
        logits, _ = decoder.forward(params, cfg, t, pos, sharder=sharder)
        return jnp.mean(jax.nn.logsumexp(logits, -1))

    p_sh = param_shardings(cfg, sharder)
    value = jax.jit(loss, in_shardings=(p_sh, d_sh))(model.params, g_tokens)
    # Reference on this process alone: the whole batch on one local device, unsharded weights.
    full_params = jax.jit(lambda p: p, out_shardings=jax.sharding.NamedSharding(
        sharder.mesh, jax.sharding.PartitionSpec()))(model.params)
    local_params = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), full_params)
    dev = jax.local_devices()[0]
    pos = np.broadcast_to(np.arange(16), tokens.shape)
    with jax.default_device(dev):
        ref_logits, _ = jax.jit(lambda p, t, q: decoder.forward(p, cfg, t, q))(local_params, tokens, pos)
        ref_value = float(jnp.mean(jax.nn.logsumexp(ref_logits, -1)))
    print(json.dumps({"process": process_id, "loss": float(value), "ref": ref_value,
                      "devices": jax.device_count()}), flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
