"""The jitted RL step: trainer logprobs line up with the sampler's, one policy-gradient step raises the
logprob of a rewarded response and lowers a penalised one, gradient accumulation equals the whole
mini-batch, and a sharded update equals the unsharded one."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpt
from jaxpt.models.model import param_shardings
from jaxpt.parallel.mesh import make_mesh
from jaxpt.parallel.rules import Sharder
from jaxpt.rl import step as rl_step
from jaxpt.rl.losses import LossConfig
from jaxpt.sample.core import sample
from jaxpt.sample.sampler import left_pad
from jaxpt.sample.settings import SampleSettings
from jaxpt.train import sft_step

N = 8  # response tokens


@pytest.fixture(scope="module")
def model():
    return jaxpt.Model.from_config("tiny-qwen", seed=3)


def _batch(prompts, responses, adv, lp=6):
    """Rows [left-padded prompt | response], as the RL batch builder lays them out."""
    tokens, attn = left_pad(prompts, lp, len(prompts))
    r = np.zeros((len(responses), N), np.int32)
    m = np.zeros((len(responses), N), np.float32)
    for i, resp in enumerate(responses):
        r[i, :len(resp)] = resp
        m[i, :len(resp)] = 1
    b = {"tokens": np.concatenate([tokens, r], 1), "attn": np.concatenate([attn, m.astype(np.int32)], 1),
         "mask": m, "adv": np.asarray(adv, np.float32)}
    rows = len(responses)
    for k in ("reward", "correct", "off", "sft"):
        b[k] = np.zeros(rows, np.float32)
    b["ref_logp"] = np.zeros((rows, N), np.float32)
    return b


def _logp(params, cfg, b, temperature=1.0):
    fn = jax.jit(rl_step.logprob_step, static_argnames=("cfg", "num_response", "temperature", "sharder", "chunk"))
    return np.asarray(fn(params, b["tokens"], b["attn"], cfg=cfg, num_response=N, temperature=temperature))


def test_trainer_logprobs_match_sampler(model):
    cfg = model.config
    prompts = [[5, 6, 7], [9, 10, 11, 12, 13]]
    tokens, mask = left_pad(prompts, 6, 2)
    for temperature in (1.0, 0.7):
        s = SampleSettings(max_new_tokens=N, temperature=temperature, n=2, eos_ids=(1,), pad_id=0)
        st = sample(model.params, cfg, tokens, mask, jax.random.key(0), s)
        toks, lens = np.asarray(st.tokens), np.asarray(st.lengths)
        b = _batch([p for p in prompts for _ in range(2)], [t[:n] for t, n in zip(toks, lens)], np.zeros(4))
        want = np.asarray(st.logprobs if temperature == 1.0 else st.sampling_logprobs)
        got = _logp(model.params, cfg, b, temperature)
        np.testing.assert_allclose(got * b["mask"], want * b["mask"], atol=2e-5)
        # Chunked LM head gives the same numbers.
        chunked = jax.jit(rl_step.logprob_step, static_argnames=("cfg", "num_response", "temperature", "sharder",
                                                                  "chunk"))(
            model.params, b["tokens"], b["attn"], cfg=cfg, num_response=N, temperature=temperature, chunk=4)
        np.testing.assert_allclose(np.asarray(chunked), got, atol=1e-6)


def _state_and_update(model, loss_cfg, lr=1e-2, sharder=None):
    tx, sched = sft_step.make_optimizer(lr, 10, schedule="constant", clip_norm=0.0)
    params = jax.tree.map(jnp.copy, model.params)
    if sharder is not None:
        params = jax.device_put(params, param_shardings(model.config, sharder))
    st = sft_step.make_init_fn(tx, sft_step.state_shardings(model.config, tx, sharder))(params)
    return st, rl_step.make_update_fn(model.config, loss_cfg, tx, sched, sharder)


def _micro(b, a=1):
    return {k: v.reshape((a, v.shape[0] // a) + v.shape[1:]) for k, v in b.items()}


def test_policy_gradient_step_moves_logprobs_the_right_way(model):
    cfg = model.config
    good, bad = [20, 21, 22, 1], [30, 31, 1]
    b = _batch([[5, 6, 7], [5, 6, 7]], [good, bad], adv=[1.0, -1.0])
    b["old_logp"] = _logp(model.params, cfg, b)
    before = (_logp(model.params, cfg, b) * b["mask"]).sum(1)
    st, update = _state_and_update(model, LossConfig(agg_mode="token-mean"), lr=1e-3)
    st, m = update(st, _micro(b))
    after = (_logp(st["params"], cfg, b) * b["mask"]).sum(1)
    assert after[0] > before[0] + 1e-3  # rewarded response more likely
    assert after[1] < before[1] - 1e-3  # penalised response less likely
    assert float(m["logprob_gap"]) < 1e-5  # old logprobs are the current policy's
    assert float(m["clip_frac"]) == 0.0


def test_gradient_accumulation_equals_whole_minibatch(model):
    cfg = model.config
    b = _batch([[5, 6, 7], [8, 9], [5, 6, 7], [10]], [[20, 1], [21, 22, 23, 1], [30, 31, 32, 33, 34], [1]],
               adv=[0.7, -0.3, -0.9, 0.5])
    # Ratios exp(+-0.3) = 1.35 / 0.74: clipping is active for some tokens of both signs of advantage.
    b["old_logp"] = _logp(model.params, cfg, b) + np.where(np.arange(N) % 2 == 0, 0.3, -0.3).astype(np.float32)
    # seq-mean-token-mean: the per-row means and the row count must use the whole mini-batch's normalisers.
    loss_cfg = LossConfig(agg_mode="seq-mean-token-mean", entropy_coef=0.01)
    st1, up1 = _state_and_update(model, loss_cfg)
    st2, up2 = _state_and_update(model, loss_cfg)
    st1, m1 = up1(st1, _micro(b, 1))
    st2, m2 = up2(st2, _micro(b, 2))
    assert float(m1["loss"]) == pytest.approx(float(m2["loss"]), rel=1e-5, abs=1e-7)
    assert float(m1["grad_norm"]) == pytest.approx(float(m2["grad_norm"]), rel=1e-4)
    assert float(m1["clip_frac"]) == pytest.approx(float(m2["clip_frac"]))
    assert float(m1["clip_frac"]) > 0.0
    # (Parameters after Adam are not compared: Adam amplifies float noise on near-zero gradients.)


def test_sharded_update_equals_unsharded(model):
    assert jax.device_count() == 8
    cfg = model.config
    rng = np.random.default_rng(0)
    rows = 8
    b = _batch([[5, 6, 7]] * rows, [list(rng.integers(3, 200, size=rng.integers(2, N + 1))) for _ in range(rows)],
               adv=rng.normal(size=rows))
    b["old_logp"] = _logp(model.params, cfg, b) - 0.02
    loss_cfg = LossConfig(agg_mode="token-mean", clip_eps_high=0.28)
    st, up = _state_and_update(model, loss_cfg)
    _, m_ref = up(st, _micro(b))
    sharder = Sharder(make_mesh(2, 2, 2))
    st_s, up_s = _state_and_update(model, loss_cfg, sharder=sharder)
    sh = rl_step.batch_sharding(sharder, True)
    _, m = up_s(st_s, {k: jax.device_put(v, sh) for k, v in _micro(b).items()})
    for k in ("loss", "grad_norm", "entropy", "clip_frac"):
        assert float(m[k]) == pytest.approx(float(m_ref[k]), rel=1e-4, abs=1e-6), k
