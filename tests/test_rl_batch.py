"""Overlong shaping at the band edges, dynamic sampling (fills the batch, stops at the round cap, speculation),
and the fixed-shape batch with expert rows (LUFFY / SRFT) and UPT gating. Host-side only: no compiles."""
import concurrent.futures
import types

import numpy as np
import pytest

from jaxpt.rl.algorithms import resolve
from jaxpt.rewards.shaping import overlong_shaping, rule_rewards
from jaxpt.rl.batch import BatchSpec, Round, assemble, informative_groups, select_groups
from jaxpt.rl.microbatch import minibatch_order
from jaxpt.rl.rollout import Rollout as RLRunner


def test_overlong_shaping_band_edges():
    # L_max 20, L_cache 4: free up to 16, linear to -1 at 20, -1 beyond.
    y = [0, 15, 16, 17, 18, 19, 20, 21, 40]
    np.testing.assert_allclose(overlong_shaping(y, 20, 4), [0, 0, 0, -0.25, -0.5, -0.75, -1.0, -1.0, -1.0])
    np.testing.assert_allclose(overlong_shaping([10, 11], 10, 0), [0, -1])
    np.testing.assert_allclose(rule_rewards([True, False], 1.0, -1.0), [1.0, -1.0])


def _round(prompt_ids, correct, group, n=4, lengths=None):
    p = len(prompt_ids)
    correct = np.asarray(correct, bool).reshape(p * group)
    lengths = np.full(p * group, 2, np.int32) if lengths is None else np.asarray(lengths, np.int32)
    tokens = np.tile(np.arange(10, 10 + n, dtype=np.int32), (p * group, 1))
    return Round(prompt_ids=np.asarray(prompt_ids), prompt_tokens=np.tile(np.array([0, 5, 6], np.int32), (p, 1)),
                 prompt_mask=np.tile(np.array([0, 1, 1], np.int32), (p, 1)), tokens=tokens,
                 old_logp=np.full((p * group, n), -0.5, np.float32),
                 sampler_logp=np.full((p * group, n), -0.5, np.float32),
                 lengths=lengths, truncated=lengths >= n, group=group, correct=correct,
                 reward=correct.astype(np.float32))


def test_select_groups_informative_only():
    r1 = _round([0, 1, 2], [[1, 1], [0, 1], [0, 0]], 2)
    kept, informative = select_groups([r1], 5, dynamic=True)
    assert kept == [(0, 1)] and informative == 1
    r2 = _round([3, 4, 5], [[1, 0], [1, 0], [1, 1]], 2)
    kept, _ = select_groups([r1, r2], 2, dynamic=True)
    assert kept == [(0, 1), (1, 0)]  # capped at the batch size
    kept, _ = select_groups([r1], 3, dynamic=False)
    assert kept == [(0, 0), (0, 1), (0, 2)]
    np.testing.assert_array_equal(informative_groups(np.array([[0.5, 0.5], [0.1, 0.2]])), [False, True])


# ----------------------------------------------------------------------------------- dynamic sampling loop
class _FakeIter:
    def __init__(self):
        self.next = 0

    def take(self, n):
        out = np.arange(self.next, self.next + n)
        self.next += n
        return out


def _fake_runner(b_gen, b_train, group, solve, max_rounds=10, speculate="safe", dynamic=True):
    """An RLRunner with generation/scoring replaced: prompt i is solved by solve(i) of its G samples."""
    runner = RLRunner.__new__(RLRunner)
    runner.B_gen, runner.B_train, runner.G = b_gen, b_train, group
    runner.algo = resolve({"algorithm": "dapo_dc" if dynamic else "grpo", "group_size": group})
    runner.c = types.SimpleNamespace(rl=types.SimpleNamespace(max_gen_rounds=max_rounds, speculate=speculate,
                                                              ds_metric="acc"))
    runner.generated = []

    def generate(self, params, idx, key):
        self.generated.append(list(idx))
        rnd = _round(idx, np.zeros((len(idx), group)), group)
        rnd.correct, rnd.reward = None, None
        return rnd

    def score(self, rnd):
        corr = np.zeros((rnd.num_prompts, group), bool)
        for j, i in enumerate(rnd.prompt_ids):
            corr[j, :solve(int(i))] = True
        rnd.correct = corr.reshape(-1)
        rnd.reward = rnd.correct.astype(np.float32)
        return {"seconds": 0.0}

    runner._key = lambda step, rnd: (step, rnd)
    runner.generate = types.MethodType(generate, runner)
    runner.score = types.MethodType(score, runner)
    return runner


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ThreadPoolExecutor(1) as p:
        yield p


def test_dynamic_sampling_fills_the_batch(pool):
    # One prompt in three is informative (1 of 4 solved); 4 prompts per round, 5 groups wanted.
    runner = _fake_runner(4, 5, 4, lambda i: 1 if i % 3 == 0 else (4 if i % 3 == 1 else 0))
    col = runner.collect(None, 0, _FakeIter(), pool)
    assert len(col["kept"]) == 5
    kept_prompts = [int(col["rounds"][r].prompt_ids[p]) for r, p in col["kept"]]
    assert kept_prompts == [0, 3, 6, 9, 12]
    assert len(col["rounds"]) == 4  # prompts 0..15: informative 0, 3, 6, 9, 12 (the 5th in round 4)
    assert col["wasted_rounds"] == 0


def test_dynamic_sampling_stops_at_the_round_cap(pool):
    runner = _fake_runner(4, 4, 4, lambda i: 0, max_rounds=3)  # nothing is ever informative
    col = runner.collect(None, 0, _FakeIter(), pool)
    assert len(col["rounds"]) == 3 and col["kept"] == [] and col["wasted_rounds"] == 0
    # The step still trains on a fixed-shape batch of empty rows.
    spec = BatchSpec(train_prompts=4, group=4, num_expert=0, prompt_len=3, max_new_tokens=4, pad_id=0)
    batch, _ = assemble(spec, col["rounds"], col["kept"])
    assert batch["tokens"].shape == (16, 7) and batch["mask"].sum() == 0


def test_dynamic_sampling_speculation(pool):
    # Safe speculation never generates a round that turns out unneeded.
    runner = _fake_runner(4, 2, 4, lambda i: 2)  # every group informative: one round suffices
    col = runner.collect(None, 0, _FakeIter(), pool)
    assert len(col["rounds"]) == 1 and col["wasted_rounds"] == 0 and len(runner.generated) == 1
    # 8 groups wanted from rounds of 4: the second round is certainly needed and overlaps scoring.
    runner = _fake_runner(4, 8, 4, lambda i: 2)
    col = runner.collect(None, 0, _FakeIter(), pool)
    assert len(col["rounds"]) == 2 and col["wasted_rounds"] == 0 and len(col["kept"]) == 8
    # "always" speculates: the extra round is generated, dropped and counted.
    runner = _fake_runner(4, 2, 4, lambda i: 2, speculate="always")
    col = runner.collect(None, 0, _FakeIter(), pool)
    assert len(col["rounds"]) == 1 and col["wasted_rounds"] == 1 and len(runner.generated) == 2
    # Without dynamic sampling: exactly one round, every group kept.
    runner = _fake_runner(4, 4, 4, lambda i: 0, dynamic=False)
    col = runner.collect(None, 0, _FakeIter(), pool)
    assert len(col["rounds"]) == 1 and len(col["kept"]) == 4


# ----------------------------------------------------------------------------------- batch assembly
def test_assemble_rollouts_layout_and_advantages():
    rnd = _round([7, 8], [[1, 0, 0, 1], [1, 1, 1, 1]], 4, lengths=[1, 2, 3, 4, 2, 2, 2, 2])
    spec = BatchSpec(train_prompts=3, group=4, num_expert=0, prompt_len=3, max_new_tokens=4, pad_id=0,
                     overlong_filter=True)
    batch, info = assemble(spec, [rnd], [(0, 0), (0, 1)])
    assert batch["tokens"].shape == (12, 7)
    np.testing.assert_array_equal(batch["tokens"][0], [0, 5, 6, 10, 11, 12, 13])
    np.testing.assert_array_equal(batch["attn"][2], [0, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(batch["mask"][1], [1, 1, 0, 0])
    np.testing.assert_array_equal(batch["mask"][3], 0.0)  # truncated (length 4 = max) -> filtered
    assert info["filtered_rows"] == 1
    s = np.std([1, 0, 0, 1], ddof=1)
    np.testing.assert_allclose(batch["adv"][:4], np.array([0.5, -0.5, -0.5, 0.5]) / (s + 1e-6), rtol=1e-5)
    np.testing.assert_array_equal(batch["adv"][4:], 0.0)
    np.testing.assert_array_equal(batch["attn"][8:], 0)  # the unfilled third group


def _experts(i):
    return [np.array([20, 21, 1], np.int32), np.array([22, 1], np.int32)]


def test_assemble_mixed_luffy_group_advantage_over_whole_group():
    rnd = _round([3], [[1, 0, 0]], 3)
    spec = BatchSpec(train_prompts=1, group=3, num_expert=1, prompt_len=3, max_new_tokens=4, pad_id=0,
                     batch_mode="mixed", advantage="luffy")
    batch, info = assemble(spec, [rnd], [(0, 0)], _experts)
    assert batch["tokens"].shape == (4, 7) and info["expert_rows"] == 1
    np.testing.assert_array_equal(batch["off"], [0, 0, 0, 1])
    np.testing.assert_array_equal(batch["tokens"][3], [0, 5, 6, 20, 21, 1, 0])
    np.testing.assert_array_equal(batch["mask"][3], [1, 1, 1, 0])
    # rewards [1, 0, 0, 1 (expert)]: mean 0.5, no std
    np.testing.assert_allclose(batch["adv"], [0.5, -0.5, -0.5, 0.5])


def test_assemble_gated_upt():
    rnd = _round([0, 1], [[0, 0, 0, 0], [1, 0, 0, 0]], 4)
    spec = BatchSpec(train_prompts=2, group=4, num_expert=0, prompt_len=3, max_new_tokens=4, pad_id=0,
                     batch_mode="gated", upt_gate=0)
    batch, info = assemble(spec, [rnd], [(0, 0), (0, 1)], _experts)
    assert info["gated_prompts"] == 1 and info["sft_rows"] == 1 and info["onpolicy_rows"] == 4
    np.testing.assert_array_equal(batch["sft"], [1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(batch["tokens"][0, 3:], [20, 21, 1, 0])
    np.testing.assert_array_equal(batch["mask"][1:4], 0.0)
    assert batch["adv"][0] == 0.0
    s = np.std([1, 0, 0, 0], ddof=1)
    np.testing.assert_allclose(batch["adv"][4:], np.array([0.75, -0.25, -0.25, -0.25]) / (s + 1e-6), rtol=1e-5)
    # With gate 1 the second prompt (1 solved) is gated too.
    spec.upt_gate = 1
    _, info = assemble(spec, [rnd], [(0, 0), (0, 1)], _experts)
    assert info["gated_prompts"] == 2


def test_minibatch_order_keeps_groups_together():
    idx = minibatch_order(12, 3, 2, np.random.default_rng(0))
    assert idx.shape == (2, 6)
    groups = idx.reshape(4, 3)
    assert all((g == g[0] + np.arange(3)).all() and g[0] % 3 == 0 for g in groups)
    assert sorted(idx.reshape(-1).tolist()) == list(range(12))
    with pytest.raises(ValueError):
        minibatch_order(12, 3, 3, np.random.default_rng(0))
