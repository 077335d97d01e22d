"""Sharded forward/backward on 8 host devices equals the unsharded one; the sharded step compiles once;
non-dividing layouts fail before any compile with a message naming the parameter."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpt
from jaxpt.models import decoder
from jaxpt.models.model import param_shardings
from jaxpt.parallel.mesh import make_mesh
from jaxpt.parallel.rules import REPLICATED_RULES, Sharder


def _loss(params, cfg, tokens, segment_ids, sharder=None):
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    logits, _ = decoder.forward(params, cfg, tokens[:, :-1], positions[:, :-1], segment_ids[:, :-1],
                                sharder=sharder)
    logp = jax.nn.log_softmax(logits, -1)
    nll = -jnp.take_along_axis(logp, tokens[:, 1:, None], -1)[..., 0]
    w = (segment_ids[:, 1:] != 0).astype(jnp.float32)
    return jnp.sum(nll * w) / jnp.sum(w)


@pytest.fixture(scope="module")
def setup():
    assert jax.device_count() == 8, "conftest must give 8 host devices"
    model = jaxpt.Model.from_config("tiny-qwen", seed=11)
    rng = np.random.RandomState(0)
    tokens = rng.randint(0, 256, (8, 33)).astype(np.int32)
    seg = np.ones_like(tokens)
    seg[3, :10] = 0
    ref_loss, ref_grads = jax.jit(jax.value_and_grad(_loss), static_argnums=1)(
        model.params, model.config, tokens, seg)
    return model, tokens, seg, float(ref_loss), ref_grads


@pytest.mark.parametrize("layout", [(2, 2, 2), (1, 1, 8), (1, 2, 4), (8, 1, 1)])
def test_sharded_loss_and_grads_equal_unsharded(setup, layout):
    model, tokens, seg, ref_loss, ref_grads = setup
    cfg = model.config
    sharder = Sharder(make_mesh(*layout))
    p_sh = param_shardings(cfg, sharder)
    d_sh = sharder.sharding(("batch", "length"))
    params = jax.device_put(model.params, p_sh)
    fn = jax.jit(jax.value_and_grad(lambda p, t, s: _loss(p, cfg, t, s, sharder)),
                 in_shardings=(p_sh, d_sh, d_sh), out_shardings=(None, p_sh))
    loss, grads = fn(params, jax.device_put(tokens, d_sh), jax.device_put(seg, d_sh))
    assert abs(float(loss) - ref_loss) <= 1e-6
    diffs = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), grads, ref_grads)
    assert max(jax.tree.leaves(diffs)) <= 1e-6
    # Parameters really are split: the MLP kernel's local shard is smaller than the whole.
    w = params["layers"][0]["w_gate"]
    if layout[1] * layout[2] > 1:
        assert w.addressable_shards[0].data.size < w.size


def test_sharded_train_step_compiles_once(setup):
    model, tokens, seg, _, _ = setup
    cfg = model.config
    sharder = Sharder(make_mesh(2, 2, 2))
    p_sh = param_shardings(cfg, sharder)
    d_sh = sharder.sharding(("batch", "length"))

    def step(params, tokens, seg):
        loss, g = jax.value_and_grad(_loss)(params, cfg, tokens, seg, sharder)
        return jax.tree.map(lambda p, g: p - 0.1 * g, params, g), loss

    jstep = jax.jit(step, in_shardings=(p_sh, d_sh, d_sh), out_shardings=(p_sh, None), donate_argnums=0)
    params = jax.device_put(jax.tree.map(jnp.copy, model.params), p_sh)
    losses = []
    for _ in range(3):
        params, loss = jstep(params, tokens, seg)
        losses.append(float(loss))
    assert jstep._cache_size() == 1
    assert losses[2] < losses[0]


def test_replicated_rules_keep_params_whole(setup):
    model = setup[0]
    sharder = Sharder(make_mesh(8, 1, 1), REPLICATED_RULES)
    sh = param_shardings(model.config, sharder)
    assert all(s.spec == jax.sharding.PartitionSpec(*([None] * len(s.spec))) for s in jax.tree.leaves(sh))


def test_non_dividing_layout_is_a_clear_error():
    cfg = jaxpt.models.config.get_config("tiny-qwen", intermediate_size=100)
    with pytest.raises(ValueError, match=r"w_gate.*dimension 1 \(size 100.*'mlp'.*tensor"):
        param_shardings(cfg, Sharder(make_mesh(1, 1, 8)))


def test_model_from_config_with_mesh_is_sharded_at_creation():
    sharder = Sharder(make_mesh(1, 2, 4))
    model = jaxpt.Model.from_config("tiny-llama", seed=0, mesh=sharder)
    w = model.params["layers"][1]["w_up"]
    assert w.sharding.spec == jax.sharding.PartitionSpec("fsdp", "tensor")
    ids = np.arange(16, dtype=np.int32).reshape(2, 8)
    ref = jaxpt.Model(model.config, jax.device_get(model.params)).logits(ids)
    assert np.abs(np.asarray(model.logits(ids)) - np.asarray(ref)).max() <= 1e-5
