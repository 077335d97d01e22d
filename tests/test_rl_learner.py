"""The learner's work list: inert rows (zero advantage, no KL / entropy term) are left out and padding is trimmed
without changing the update (checked against the update of the whole, unfiltered mini-batch), an update with
nothing left is skipped and counted, and a step crosses between host and device once each way for the update
(and once each way per generation round), with no implicit transfer."""
import concurrent.futures
import dataclasses
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpt
from jaxpt.data.prompts import PromptIterator
from jaxpt.data.tasks import toy as toy_task
from jaxpt.data.tokenizer import load_tokenizer
from jaxpt.rl import step as rl_step
from jaxpt.rl import transfer
from jaxpt.rl.batch import BatchSpec, Round, assemble
from jaxpt.rl.learner import Learner
from jaxpt.rl.losses import LossConfig, inert_rows
from jaxpt.rl.microbatch import bucket, plan_updates
from jaxpt.train.optimizer import make_optimizer
from jaxpt.train.state import make_init_fn

LP, N, G = 8, 24, 4  # prompt bucket, response budget, group


def test_inert_rows_rule():
    mask = np.array([[1, 1], [1, 0], [0, 0], [1, 1]], np.float32)
    adv = np.array([0.0, 0.5, 0.7, 0.0], np.float32)
    sft = np.array([0, 0, 0, 1], np.float32)
    np.testing.assert_array_equal(inert_rows(mask, adv, sft, LossConfig()), [True, False, True, False])
    # A KL or entropy term, or a loss that does not scale with A (SRFT), keeps every row with a loss token.
    for cfg in (LossConfig(kl_coef=0.1), LossConfig(entropy_coef=0.01), LossConfig(name="srft")):
        np.testing.assert_array_equal(inert_rows(mask, adv, sft, cfg), [False, False, True, False])


def test_length_buckets():
    assert [bucket(n, 128) for n in (1, 16, 17, 24, 25, 100, 128)] == [16, 16, 24, 24, 32, 128, 128]
    assert bucket(20, 128, multiple=16) == 32 and bucket(100, 96) == 96


@pytest.fixture(scope="module")
def model():
    return jaxpt.Model.from_config("tiny-qwen", seed=3)


def _batch(model):
    """Three groups of 4 rollouts with prompts and responses of varied lengths: group 0 all correct (advantage
    0: inert under GRPO), groups 1 and 2 mixed. old_logp is the policy's own +-0.3, so some ratios clip."""
    rng = np.random.default_rng(0)
    plens = [3, 8, 5]
    prompt_tokens = np.zeros((3, LP), np.int32)
    prompt_mask = np.zeros((3, LP), np.int32)
    for i, n in enumerate(plens):
        prompt_tokens[i, LP - n:] = rng.integers(3, 200, n)
        prompt_mask[i, LP - n:] = 1
    lengths = np.array([5, 9, 2, 24, 3, 17, 11, 6, 24, 1, 8, 13], np.int32)
    tokens = rng.integers(3, 200, (12, N)).astype(np.int32)
    for r, n in enumerate(lengths):
        tokens[r, n:] = 0
    correct = np.array([1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0], bool)
    rnd = Round(prompt_ids=np.arange(3), prompt_tokens=prompt_tokens, prompt_mask=prompt_mask, tokens=tokens,
                old_logp=np.zeros((12, N), np.float32), sampler_logp=np.zeros((12, N), np.float32), lengths=lengths,
                truncated=lengths >= N, group=G, correct=correct, reward=correct.astype(np.float32))
    spec = BatchSpec(train_prompts=3, group=G, num_expert=0, prompt_len=LP, max_new_tokens=N, pad_id=0)
    batch, _ = assemble(spec, [rnd], [(0, 0), (0, 1), (0, 2)])
    logp = rl_step.logprob_step(model.params, batch["tokens"], batch["attn"], cfg=model.config, num_response=N,
                                temperature=1.0)
    shift = np.where(np.arange(N) % 2 == 0, 0.3, -0.3).astype(np.float32)
    batch["old_logp"] = (np.asarray(logp) + shift) * batch["mask"]
    batch["ref_logp"] = np.zeros_like(batch["old_logp"])
    return batch


@pytest.mark.parametrize("agg_mode,share", [("token-mean", False), ("seq-mean-token-mean", False),
                                            ("token-mean", True)])
def test_leaving_out_inert_rows_and_padding_keeps_the_update(model, agg_mode, share):
    batch = _batch(model)
    loss_cfg = LossConfig(agg_mode=agg_mode)
    tx, sched = make_optimizer(1e-3, 10, schedule="constant")
    update = rl_step.make_update_fn(model.config, loss_cfg, tx, sched)
    inert = inert_rows(batch["mask"], batch["adv"], batch["sft"], loss_cfg)
    assert inert.tolist() == [True] * 4 + [False] * 8
    # The reference: every row of the mini-batch, at full width, its own normalisers.
    full = {k: batch[k][None] for k in rl_step.BATCH_KEYS}
    g_ref, loss_ref, sums_ref = update.grads(model.params, [full])
    plan = plan_updates(batch, inert, width=G, num_minibatches=1, ppo_epochs=1, micro_rows=4,
                        rng=np.random.default_rng(0), prompt_len=LP, pad_id=0, share_prompts=share)
    (mb,) = plan.minibatches
    assert plan.stats["rows"] == 8 and plan.stats["rows_inert"] == 4 and plan.skipped == 0
    # Longest rows first, each micro-batch cut to its length bucket (full width 8 + 24); with shared prompts a
    # group's rows stay together and each micro-batch carries its one prompt once.
    shapes = [g["tokens"].shape for g in mb.groups]
    if share:
        assert shapes == [(2, 4, 8 + 24)] and mb.groups[0]["prompt_rows"].shape == (2, 1), shapes
        np.testing.assert_array_equal(mb.rows // G, [2, 2, 2, 2, 1, 1, 1, 1])
        assert plan.stats["tokens_computed"] == 2 * 8 + 8 * 24  # two prompts once each, eight responses
    else:
        assert shapes == [(1, 4, 8 + 24), (1, 4, 8 + 16)], shapes
        assert plan.stats["tokens_computed"] < plan.stats["tokens_full"] * 8 / 12
    g, loss, sums = update.grads(model.params, mb.groups, mb.norm)
    assert float(loss) == pytest.approx(float(loss_ref), rel=1e-5, abs=1e-8)
    assert float(sums["clip_frac_sum"]) == float(sums_ref["clip_frac_sum"]) > 0
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-7)
    # The normalisers are the whole mini-batch's: those of the rows kept would scale the loss up.
    own = {"tokens": np.float32(batch["mask"][~inert].sum()), "rows": np.float32(8)}
    _, loss_own, _ = update.grads(model.params, mb.groups, own)
    assert abs(float(loss_own)) > 1.2 * abs(float(loss_ref))


@pytest.mark.parametrize("scan", [False, True])
def test_shared_prompt_forward_equals_the_whole_rows(model, scan):
    """Each distinct prompt once (its keys and values gathered per row as the responses' prefix, rows shuffled
    across groups) against every row through the model whole: logprobs, entropies and the gradient of their
    sum; per-layer and stacked (scan_layers) weights."""
    if scan:
        model = jaxpt.Model.from_config(dataclasses.replace(model.config, scan_layers=True), seed=3)
    batch = _batch(model)
    rows = np.random.default_rng(1).permutation(12)
    tokens, attn, mask = batch["tokens"][rows], batch["attn"][rows], batch["mask"][rows]
    groups = list(dict.fromkeys((rows // G).tolist()))
    prompt_rows = np.array([list(rows // G).index(g) for g in groups] + [0], np.int32)  # a padded 4th prompt
    prompt_of = np.array([groups.index(g) for g in rows // G], np.int32)
    cfg = model.config

    def total(p, t, a, **kw):
        logp, ent = rl_step.response_logprobs(p, cfg, t, a, N, **kw)
        return jnp.sum((logp + ent) * mask), (logp, ent)

    grad = jax.jit(jax.grad(total, has_aux=True))
    g_ref, (lp_ref, ent_ref) = grad(model.params, tokens, attn)
    g, (lp, ent) = grad(model.params, tokens, attn, prompt_rows=prompt_rows, prompt_of=prompt_of)
    np.testing.assert_allclose(np.asarray(lp) * mask, np.asarray(lp_ref) * mask, atol=2e-6)
    np.testing.assert_allclose(np.asarray(ent) * mask, np.asarray(ent_ref) * mask, atol=5e-6)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_nothing_left_skips_the_update():
    batch = {"tokens": np.zeros((8, 6), np.int32), "attn": np.ones((8, 6), np.int32),
             "mask": np.ones((8, 3), np.float32), "adv": np.zeros(8, np.float32)}
    for k in ("old_logp", "ref_logp"):
        batch[k] = np.zeros((8, 3), np.float32)
    for k in ("reward", "correct", "off", "sft"):
        batch[k] = np.zeros(8, np.float32)
    batch["adv"][:4] = [1, -1, 1, -1]  # the first of two mini-batches trains, the second is all advantage 0
    inert = inert_rows(batch["mask"], batch["adv"], batch["sft"], LossConfig())
    plan = plan_updates(batch, inert, width=4, num_minibatches=2, ppo_epochs=1, micro_rows=4,
                        rng=np.random.default_rng(0), prompt_len=3, pad_id=0)
    assert plan.skipped == 1 and len(plan.minibatches) == 1 and sorted(plan.minibatches[0].rows) == [0, 1, 2, 3]


def _has_one(texts, golds):
    del golds
    return np.array(["1" in t for t in texts]), {}


def test_one_crossing_each_way_and_skipped_steps():
    tok = load_tokenizer("toy")
    policy = jaxpt.Model.from_config("tiny-qwen", seed=1, vocab_size=32, eos_token_ids=(tok.eos_token_id,))
    splits = toy_task.make_splits("tiny", seed=0, noise=0.3, num_val=8, num_test=16, num_rl=64)
    cfg = {"workdir": tempfile.mkdtemp(), "tokenizer": "toy", "mesh": {"data": 1}, "prompt": {"template": "{question}"},
           "rl": {"algorithm": "grpo", "gen_prompts": 4, "group_size": 4, "max_new_tokens": 12, "eval_every": 0},
           "log": {"progress": False, "tensorboard": False}}
    learner = Learner(cfg, policy, prompts=splits["rl_prompts"], reward_fn=_has_one)
    s = learner.s
    state = make_init_fn(s.tx, s.state_sh)(s.init_params)
    it, pool = PromptIterator(len(s.prompts), seed=0), concurrent.futures.ThreadPoolExecutor(1)
    for step in range(2):
        transfer.COUNTS.clear()
        with jax.transfer_guard_device_to_host("disallow"):  # every fetch goes through transfer.to_host
            col = learner.rollout.collect(state["params"], step, it, pool)
            batch, _ = assemble(s.spec, col["rounds"], col["kept"])
            with jax.transfer_guard("disallow"):  # the update: nothing crosses but the batch and the metrics
                state, ms, plan, _ = learner.update(state, batch, step)
        # prompts in + rollouts out (one round), the batch in + the metrics out.
        assert dict(transfer.COUNTS) == {"to_device": 2, "to_host": 2}
        assert len(ms) == 1 and np.isfinite(ms[0]["loss"])
    # A step whose rows all have advantage 0 runs no update: the state is untouched and the skip counted.
    batch["adv"][:] = 0.0
    transfer.COUNTS.clear()
    same, ms, plan, _ = learner.update(state, batch, 2)
    assert same is state and ms == [] and plan.skipped == 1 and not transfer.COUNTS
    pool.shutdown()


def test_concurrent_sampler_streams_draw_the_same_rollouts():
    """rl.gen_streams=2 runs a round's two sampler calls from two threads: the same tokens and logprobs as the
    same two calls one after another (gen_batch_prompts = half a round), still one crossing each way; a round
    that does not split fails with the key named."""
    tok = load_tokenizer("toy")
    policy = jaxpt.Model.from_config("tiny-qwen", seed=1, vocab_size=32, eos_token_ids=(tok.eos_token_id,))
    splits = toy_task.make_splits("tiny", seed=0, noise=0.3, num_val=8, num_test=16, num_rl=64)

    def learner(**rl):
        cfg = {"workdir": tempfile.mkdtemp(), "tokenizer": "toy", "mesh": {"data": 1},
               "prompt": {"template": "{question}"}, "log": {"progress": False, "tensorboard": False},
               "rl": {"algorithm": "grpo", "gen_prompts": 4, "group_size": 4, "max_new_tokens": 12,
                      "eval_every": 0, **rl}}
        return Learner(cfg, policy, prompts=splits["rl_prompts"], reward_fn=_has_one)

    threaded, serial = learner(gen_streams=2), learner(gen_batch_prompts=2)
    assert threaded.s.gen_chunk == 2 and threaded.rollout.gen_streams == 2
    idx, key = np.arange(4), jax.random.key(7)
    transfer.COUNTS.clear()
    a = threaded.rollout.generate(threaded.s.init_params, idx, key)
    assert dict(transfer.COUNTS) == {"to_device": 1, "to_host": 1}
    assert threaded.rollout._gen_pool is not None  # the calls did go through the threads
    b = serial.rollout.generate(serial.s.init_params, idx, key)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_array_equal(a.old_logp, b.old_logp)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    with pytest.raises(ValueError, match="gen_streams=2"):
        learner(gen_prompts=9, gen_streams=2)  # 9 prompts do not split into two calls of 4
