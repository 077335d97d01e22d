"""The SFT step: loss against numpy, chunked loss, gradient accumulation, schedule, sharded == unsharded."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpt.data.packing import build_batch
from jaxpt.models import decoder
from jaxpt.models.config import get_config
from jaxpt.models.model import Model
from jaxpt.parallel.mesh import make_mesh
from jaxpt.parallel.rules import Sharder
from jaxpt.train import sft_step

CFG = get_config("tiny-qwen")  # vocab 256, hidden 64, 2 layers, 4/2 heads


def random_batch(rows, seq_len, seed=0, vocab=256):
    """Packed rows of random documents with random prompt/response splits."""
    rng = np.random.default_rng(seed)
    row_docs = []
    for _ in range(rows):
        docs, used = [], 0
        while True:
            n = int(rng.integers(4, 12))
            if used + n > seq_len:
                break
            ids = rng.integers(3, vocab, n).astype(np.int32)
            mask = np.arange(n) >= int(rng.integers(1, n - 1))
            docs.append((ids, mask))
            used += n
        row_docs.append(docs)
    return build_batch(row_docs, rows, seq_len)


@pytest.fixture(scope="module")
def params():
    return Model.from_config(CFG, seed=1).params


def test_loss_matches_numpy(params):
    b = random_batch(3, 32)
    s, n = jax.jit(functools.partial(sft_step.loss_sums, cfg=CFG))(params, batch=b)
    logits = np.asarray(decoder.forward(params, CFG, b["tokens"], b["positions"], b["segment_ids"])[0],
                        np.float64)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, b["targets"][..., None], -1)[..., 0]
    want = (nll * b["weights"]).sum() / b["weights"].sum()
    assert float(n) == b["weights"].sum()
    np.testing.assert_allclose(float(s) / float(n), want, rtol=1e-5)
    # Chunked LM head + NLL (never the full [B, T, V] logits) gives the same sums.
    sc, nc = jax.jit(functools.partial(sft_step.loss_sums, cfg=CFG, loss_chunk=8))(params, batch=b)
    np.testing.assert_allclose(float(sc), float(s), rtol=1e-5)
    assert float(nc) == float(n)


def test_gradient_accumulation_equals_large_batch(params):
    b = random_batch(4, 32, seed=3)
    one = {k: v[None] for k, v in b.items()}  # [1, 4, T]
    two = {k: v.reshape(2, 2, -1) for k, v in b.items()}  # [2, 2, T]
    fn = jax.jit(functools.partial(sft_step.accumulated_grads, cfg=CFG))
    g1, l1, n1 = fn(params, one)
    g2, l2, n2 = fn(params, two)
    assert float(n1) == float(n2)
    np.testing.assert_allclose(float(l1), float(l2), rtol=1e-6)
    for a, c in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=2e-4, atol=1e-7)
    # Also with the chunked loss.
    g3, l3, _ = jax.jit(functools.partial(sft_step.accumulated_grads, cfg=CFG, loss_chunk=16))(params, two)
    np.testing.assert_allclose(float(l3), float(l1), rtol=1e-5)
    for a, c in zip(jax.tree.leaves(g1), jax.tree.leaves(g3)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=2e-4, atol=1e-7)


def test_schedule():
    s = sft_step.make_schedule(1.0, total_steps=110, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    np.testing.assert_allclose([float(s(k)) for k in (0, 4, 9, 10, 60, 110, 200)],
                               [0.1, 0.5, 1.0, 1.0, 0.55, 0.1, 0.1], rtol=1e-5)
    c = sft_step.make_schedule(2.0, total_steps=100, warmup_steps=0, schedule="constant")
    assert float(c(0)) == float(c(99)) == 2.0


def _step_setup(cfg, sharder):
    tx, sched = sft_step.make_optimizer(1e-2, 10, warmup_steps=2, weight_decay=0.1)
    state = sft_step.make_init_fn(tx, sft_step.state_shardings(cfg, tx, sharder))(
        Model.from_config(cfg, seed=2, mesh=sharder).params)
    return state, sft_step.make_train_step(cfg, tx, sched, sharder)


def test_sharded_step_equals_unsharded():
    assert jax.device_count() == 8, "tests/conftest.py sets 8 host devices"
    sharder = Sharder(make_mesh(data=2, fsdp=2, tensor=2))
    b = random_batch(8, 32, seed=5)
    batch = {k: v.reshape(2, 4, -1) for k, v in b.items()}  # 2 micro-batches of 4 rows
    ref_state, ref_step = _step_setup(CFG, None)
    sh_state, sh_step = _step_setup(CFG, sharder)
    assert sh_state["params"]["layers"][0]["wq"].sharding.spec == sharder.spec(("embed", "q_heads"))
    ref_m, sh_m = [], []
    for _ in range(2):
        ref_state, m1 = ref_step(ref_state, batch)
        sh_state, m2 = sh_step(sh_state, jax.device_put(batch, sft_step.batch_sharding(sharder)))
        ref_m.append(jax.device_get(m1))
        sh_m.append(jax.device_get(m2))
    for a, c in zip(ref_m, sh_m):
        np.testing.assert_allclose(a["loss"], c["loss"], rtol=1e-5)
        np.testing.assert_allclose(a["grad_norm"], c["grad_norm"], rtol=1e-4)
    # Adam amplifies float noise on near-zero gradients: compare parameters loosely.
    for a, c in zip(jax.tree.leaves(ref_state["params"]), jax.tree.leaves(sh_state["params"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), atol=2e-4)
    # Explicit in/out shardings: the donated state round-trips without a recompile.
    assert sh_step._cache_size() == 1
    assert sh_state["params"]["layers"][0]["wq"].sharding.spec == sharder.spec(("embed", "q_heads"))
    mu = sh_state["opt_state"][1][0].mu["layers"][0]["w_up"]
    assert mu.sharding.spec == sharder.spec(("embed", "mlp"))


def test_bf16_and_remat_step_runs():
    cfg = CFG.replace(dtype="bfloat16", remat="full")
    state, step = _step_setup(cfg, None)
    b = {k: v[None] for k, v in random_batch(2, 32, seed=7).items()}
    losses = []
    for _ in range(3):
        state, m = step(state, b)
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert state["params"]["embed"].dtype == jnp.float32
