"""Advantages, PPO clipping (clip-higher, dual clip), aggregation modes, KL estimators and the LUFFY / SRFT /
UPT losses on hand-computed values."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpt.rl import registry
from jaxpt.rl.advantages import compute_advantages
from jaxpt.rl.algorithms import resolve
from jaxpt.rl.losses import LossConfig, aggregate, kl_penalty, normalizers, policy_loss, ppo_token_loss

F32 = np.float32


# ------------------------------------------------------------------------------------------- advantages
def test_grpo_advantages_unbiased_std():
    r = np.array([[1, 0, 0, 1], [1, 1, 1, 1], [0, 1, 0, 0]], F32)
    v = np.ones_like(r, bool)
    a = compute_advantages("grpo", r, v, eps=0.0 + 1e-12)
    s = math.sqrt(4 * 0.25 / 3)  # unbiased std of [1, 0, 0, 1]
    np.testing.assert_allclose(a[0], np.array([0.5, -0.5, -0.5, 0.5]) / s, rtol=1e-6)
    np.testing.assert_array_equal(a[1], 0.0)  # all equal: no signal
    s2 = math.sqrt((0.75 ** 2 + 3 * 0.25 ** 2) / 3)
    np.testing.assert_allclose(a[2], np.array([-0.25, 0.75, -0.25, -0.25]) / s2, rtol=1e-6)


def test_drgrpo_rloo_and_valid_mask():
    r = np.array([[1, 0, 0, 5]], F32)
    v = np.array([[True, True, True, False]])  # the last slot is padding
    np.testing.assert_allclose(compute_advantages("drgrpo", r, v), [[2 / 3, -1 / 3, -1 / 3, 0]], rtol=1e-6)
    np.testing.assert_allclose(compute_advantages("luffy", r, v), [[2 / 3, -1 / 3, -1 / 3, 0]], rtol=1e-6)
    np.testing.assert_allclose(compute_advantages("rloo", r, v), [[1.0, -0.5, -0.5, 0]], rtol=1e-6)
    np.testing.assert_allclose(compute_advantages("reward", r, v), [[1, 0, 0, 0]])


def test_registry_lookup_and_unknown_names():
    assert "grpo" in list(registry.ADVANTAGES.names())
    for name in ("ppo", "luffy", "srft", "upt", "reinforce"):
        assert registry.get_loss(name)
    with pytest.raises(KeyError, match="unknown policy loss"):
        registry.get_loss("nope")
    for algo in ("grpo", "drgrpo", "dapo", "dapo_d", "dapo_dc", "luffy", "srft", "upt"):
        resolve({"algorithm": algo})
    a = resolve({"algorithm": "dapo_dc", "clip_eps_high": None, "agg_mode": None})  # None: the preset's
    assert a.dynamic_sampling and a.loss.clip_eps_high == 0.28 and a.loss.agg_mode == "token-mean"
    assert not a.overlong_shaping
    assert resolve({"algorithm": "dapo_d"}).loss.clip_eps_high == 0.2
    assert resolve({"algorithm": "dapo"}).overlong_shaping
    l7 = resolve({"algorithm": "luffy"})
    assert (l7.group_size, l7.num_expert, l7.group_width) == (7, 1, 8)
    # Explicit values win over the algorithm's.
    assert resolve({"algorithm": "dapo", "clip_eps_high": 0.3, "dynamic_sampling": "off"}).loss.clip_eps_high == 0.3
    assert not resolve({"algorithm": "dapo", "dynamic_sampling": False}).dynamic_sampling


# ------------------------------------------------------------------------------------------- clipping
def _ratio_case(ratios, adv, **kw):
    logp = jnp.log(jnp.asarray(ratios, jnp.float32))[None, :]
    old = jnp.zeros_like(logp)
    return ppo_token_loss(logp, old, jnp.asarray([adv], jnp.float32), LossConfig(**kw))


def test_ppo_clipping_hand_values():
    loss, clipped, dual, _ = _ratio_case([1.5, 0.5, 1.1], 1.0)
    np.testing.assert_allclose(loss[0], [-1.2, -0.5, -1.1], rtol=1e-6)
    np.testing.assert_array_equal(clipped[0], [1, 0, 0])
    loss, clipped, _, _ = _ratio_case([1.5, 0.5, 0.9], -1.0)
    np.testing.assert_allclose(loss[0], [1.5, 0.8, 0.9], rtol=1e-6)
    np.testing.assert_array_equal(clipped[0], [0, 1, 0])
    # Clip-higher: the upper bound moves, the lower one does not.
    loss, _, _, _ = _ratio_case([1.5, 0.5], 1.0, clip_eps_high=0.28)
    np.testing.assert_allclose(loss[0], [-1.28, -0.5], rtol=1e-6)
    loss, _, _, _ = _ratio_case([1.5, 0.5], -1.0, clip_eps_high=0.28)
    np.testing.assert_allclose(loss[0], [1.5, 0.8], rtol=1e-6)
    # Dual clip for A < 0: the loss is capped at -c A.
    loss, _, dual, _ = _ratio_case([5.0, 2.0], -1.0, dual_clip=3.0)
    np.testing.assert_allclose(loss[0], [3.0, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(dual[0], [1, 0])
    loss, _, dual, _ = _ratio_case([5.0], 1.0, dual_clip=3.0)  # A > 0 untouched
    np.testing.assert_allclose(loss[0], [-1.2], rtol=1e-6)


def test_ppo_gradient_zero_when_clipped():
    def f(logp, adv):
        return jnp.sum(ppo_token_loss(logp, jnp.zeros_like(logp), adv, LossConfig())[0])

    g = jax.grad(f)(jnp.log(jnp.array([[1.5, 1.1]], jnp.float32)), jnp.array([1.0]))
    np.testing.assert_allclose(g[0], [0.0, -1.1], rtol=1e-6)  # d(-r A)/dlogp = -r A where unclipped


# ------------------------------------------------------------------------------------------- aggregation
def test_aggregation_modes_hand_values():
    tok = jnp.array([[1.0, 2.0, 3.0, 9.0], [4.0, 9.0, 9.0, 9.0]])
    mask = jnp.array([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    n = normalizers(mask)
    assert float(aggregate(tok, mask, "token-mean", n)) == pytest.approx(2.5)
    assert float(aggregate(tok, mask, "seq-mean-token-mean", n)) == pytest.approx(3.0)  # (2 + 4) / 2
    assert float(aggregate(tok, mask, "seq-mean-token-sum", n)) == pytest.approx((6 / 4 + 4 / 4) / 2)
    assert float(aggregate(tok, mask, "seq-mean-token-sum", n, constant=10.0)) == pytest.approx((0.6 + 0.4) / 2)
    # An empty (padding) row counts in no mode.
    tok3, mask3 = jnp.concatenate([tok, tok[:1]]), jnp.concatenate([mask, jnp.zeros((1, 4))])
    n3 = normalizers(mask3)
    for mode in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum"):
        assert float(aggregate(tok3, mask3, mode, n3)) == pytest.approx(float(aggregate(tok, mask, mode, n)))
        # Micro-batches with the global normalisers add up to the whole.
        parts = sum(float(aggregate(tok3[i:i + 1], mask3[i:i + 1], mode, n3)) for i in range(3))
        assert parts == pytest.approx(float(aggregate(tok3, mask3, mode, n3)))


def test_kl_estimators():
    logp, ref = jnp.log(jnp.array([0.5])), jnp.log(jnp.array([0.25]))
    assert float(kl_penalty(logp, ref, "k1")[0]) == pytest.approx(math.log(2), rel=1e-6)
    assert float(kl_penalty(logp, ref, "k2")[0]) == pytest.approx(0.5 * math.log(2) ** 2, rel=1e-6)
    assert float(kl_penalty(logp, ref, "k3")[0]) == pytest.approx(0.5 + math.log(2) - 1, rel=1e-5)
    assert float(kl_penalty(logp, logp, "k3")[0]) == pytest.approx(0.0, abs=1e-7)


def _batch(logp, old=None, **rows):
    logp = jnp.asarray(logp, jnp.float32)
    b = {"logp": logp, "old_logp": logp if old is None else jnp.asarray(old, jnp.float32),
         "mask": jnp.ones_like(logp), "entropy": jnp.zeros_like(logp)}
    b.update({k: jnp.asarray(v, jnp.float32) for k, v in rows.items()})
    return b


def test_policy_loss_kl_and_entropy_terms():
    b = _batch([[-1.0, -2.0]], adv=[0.0])
    b["ref_logp"] = jnp.array([[-1.5, -2.0]])
    b["entropy"] = jnp.array([[0.7, 0.3]])
    cfg = LossConfig(kl_coef=0.1, kl_type="k1", entropy_coef=0.01, agg_mode="token-mean")
    loss, sums = policy_loss(b, cfg)
    # pg = 0 (A = 0); kl k1 = [0.5, 0]; entropy mean 0.5
    assert float(loss) == pytest.approx(0.1 * 0.25 - 0.01 * 0.5, rel=1e-5)
    assert float(sums["kl_sum"]) == pytest.approx(0.5, rel=1e-5)


# ------------------------------------------------------------------------------------------- baselines
def test_luffy_loss_policy_shaping_no_clip_on_expert_tokens():
    # Row 0 on-policy with ratio 1.5 (clipped at 1.2), row 1 expert with pi = 0.4 and 0.9.
    logp = np.log(np.array([[1.5, 1.0], [0.4, 0.9]], F32))
    old = np.array([[0.0, 0.0], [-5.0, -5.0]], F32)  # the expert row's old logprob must be ignored
    b = _batch(logp, old, adv=[1.0, 0.5], off=[0.0, 1.0])
    cfg = LossConfig(name="luffy", agg_mode="token-mean")
    loss, sums = policy_loss(b, cfg)
    f = lambda p: p / (p + 0.1)  # noqa: E731
    expected = (-1.2 - 1.0 - 0.5 * f(0.4) - 0.5 * f(0.9)) / 4
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(sums["clip_frac_sum"]) == 1.0  # only the on-policy token
    # Gradient of the shaped term: d/dlogp [-A p/(p+g)] = -A g p / (p+g)^2.
    g = jax.grad(lambda lp: policy_loss({**b, "logp": lp}, cfg)[0])(b["logp"])
    assert float(g[1, 0]) == pytest.approx(-0.5 * 0.1 * 0.4 / 0.5 ** 2 / 4, rel=1e-5)
    assert float(g[0, 0]) == 0.0  # clipped on-policy token


def test_srft_loss_hand_values():
    # Row 0: expert (H = 0.5), row 1: correct rollout (H = 1.0), row 2: wrong rollout.
    logp = np.array([[-1.0, -2.0], [-0.5, -0.5], [-3.0, -1.0]], F32)
    b = _batch(logp, adv=[0.4, 0.2, -0.6], off=[1, 0, 0], correct=[1, 1, 0])
    b["entropy"] = jnp.array([[0.5, 0.5], [1.0, 1.0], [2.0, 2.0]])
    cfg = LossConfig(name="srft", agg_mode="token-mean")
    loss, sums = policy_loss(b, cfg)
    w1, w2 = 0.5 * math.exp(-0.5), 0.1 * math.exp(1.0)
    j = (w1 * -3.0 + 0.4 * -3.0) + w2 * -1.0 + 4.0  # sum over the 6 tokens
    assert float(loss) == pytest.approx(-j / 6, rel=1e-5)
    # Weights are detached: the gradient flows through log pi only.
    g = jax.grad(lambda lp: policy_loss({**b, "logp": lp}, cfg)[0])(b["logp"])
    np.testing.assert_allclose(np.asarray(g), np.array([[-(w1 + 0.4)] * 2, [-w2] * 2, [1.0] * 2]) / 6, rtol=1e-5)
    ge = jax.grad(lambda e: policy_loss({**b, "entropy": e}, cfg)[0])(b["entropy"])
    np.testing.assert_array_equal(np.asarray(ge), 0.0)
    # The off-policy term on pi instead of log pi.
    loss_p, _ = policy_loss(b, LossConfig(name="srft", srft_off_term="prob"))
    j_p = (w1 * -3.0 + 0.4 * (math.exp(-1) + math.exp(-2))) + w2 * -1.0 + 4.0
    assert float(loss_p) == pytest.approx(-j_p / 6, rel=1e-5)


def test_upt_loss_sft_rows_and_grpo_rows():
    logp = np.log(np.array([[0.5, 0.25], [1.5, 1.0]], F32))
    old = np.array([[0.0, 0.0], [0.0, 0.0]], F32)
    b = _batch(logp, old, adv=[0.0, 1.0], sft=[1, 0])
    loss, _ = policy_loss(b, LossConfig(name="upt", agg_mode="token-mean", sft_coef=1.0))
    expected = (math.log(2) + math.log(4) - 1.2 - 1.0) / 4
    assert float(loss) == pytest.approx(expected, rel=1e-6)
