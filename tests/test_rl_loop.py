"""The RL loop end to end on a tiny random policy (cheap synthetic reward): exact resume, every paradigm
runs a step (GRPO, DAPO with dynamic sampling, LUFFY, SRFT, UPT), metrics/eval hook/checkpoint outputs."""
import json

import jax
import numpy as np
import pytest

import jaxpt
from jaxpt.data.tasks import toy as toy_task
from jaxpt.data.tokenizer import load_tokenizer
from jaxpt.rl.learner import run_rl
from jaxpt.utils.metrics import read_metrics


def _has_one(texts, golds):
    """Synthetic reward: the response contains the character '1' (mixed rewards from a random policy)."""
    del golds
    return np.array(["1" in t for t in texts]), {"checked": len(texts)}


@pytest.fixture(scope="module")
def setup():
    tok = load_tokenizer("toy")
    model = jaxpt.Model.from_config("tiny-qwen", seed=1, vocab_size=32, eos_token_ids=(tok.eos_token_id,))
    splits = toy_task.make_splits("tiny", seed=0, noise=0.3, num_val=8, num_test=16, num_rl=64)
    return model, splits


def _cfg(workdir, **rl):
    base = {"algorithm": "dapo_dc", "total_steps": 4, "gen_prompts": 4, "train_prompts": 4, "group_size": 4,
            "max_new_tokens": 12, "num_minibatches": 2, "max_gen_rounds": 3, "eval_every": 2, "checkpoint_every": 0}
    base.update(rl)
    return {"workdir": str(workdir), "tokenizer": "toy", "rl": base, "optim": {"lr": 3e-3}, "mesh": {"data": 1},
            "prompt": {"template": "{question}"}, "eval": {"max_new_tokens": 12},
            "log": {"progress": False, "tensorboard": False}}


def test_resume_is_exact(setup, tmp_path):
    model, splits = setup
    kw = dict(prompts=splits["rl_prompts"], eval_records=splits["test"], reward_fn=_has_one)
    full = run_rl(_cfg(tmp_path / "full"), model, **kw)
    assert full.final_step == 4 and len(full.history) == 3  # evals at 0, 2, 4
    part = run_rl({**_cfg(tmp_path / "resumed"), "rl": {**_cfg("")["rl"], "stop_at_step": 2}}, model, **kw)
    assert part.final_step == 2 and part.final_model_dir is None
    with pytest.raises(ValueError, match="resume"):
        run_rl(_cfg(tmp_path / "resumed"), model, **kw)
    resumed = run_rl({**_cfg(tmp_path / "resumed"), "checkpoint": {"resume": True}}, model, **kw)
    assert resumed.final_step == 4
    for a, b in zip(jax.tree.leaves(full.state["params"]), jax.tree.leaves(resumed.state["params"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.history == full.history
    assert resumed.rl_flops == pytest.approx(full.rl_flops)
    # The interrupted run's metrics rows were kept up to its checkpoint and continued from there.
    steps = [r["step"] for r in read_metrics(tmp_path / "resumed" / "metrics.jsonl") if "rollout/accuracy" in r]
    assert steps == [1, 2, 3, 4]
    rows = {r["step"]: r for r in read_metrics(tmp_path / "full" / "metrics.jsonl") if "rollout/accuracy" in r}
    for key in ("rollout/accuracy", "rollout/response_len_mean", "rollout/truncation_rate", "ds/rounds",
                "ds/kept_fraction", "train/clip_frac", "train/entropy", "train/logprob_gap", "perf/tokens_per_s",
                "flops/rl_cumulative", "train/approx_kl", "verifier/checked"):
        assert key in rows[4], key
    assert rows[4]["flops/rl_cumulative"] > rows[1]["flops/rl_cumulative"] > 0
    # The caller's parameters were not donated.
    assert np.isfinite(np.asarray(model.params["embed"])).all()


@pytest.mark.parametrize("algorithm", ["grpo", "dapo", "luffy", "srft", "upt"])
def test_each_paradigm_runs(setup, tmp_path, algorithm):
    model, splits = setup
    seen = []
    extra = {"grpo": dict(kl_coef=0.01, dual_clip=3.0), "srft": dict(recompute_old_logprobs=True),
             "dapo": dict(overlong_max_len=12, overlong_cache_len=4, max_gen_rounds=2)}.get(algorithm, {})
    cfg = _cfg(tmp_path, algorithm=algorithm, total_steps=1, num_minibatches=1, gen_prompts=2, train_prompts=2,
               group_size=3, entropy_coef=0.001, **extra)
    cfg["rl"].update(eval_every=1, eval_at_start=False)
    # As the pipeline calls it: the RL prompt pool (disjoint from the SFT data) plus the SFT records as
    # experts; expert-mixing paradigms then train on the expert questions, the others ignore the experts.
    res = run_rl(cfg, model, prompts=splits["rl_prompts"], experts=splits["train"], eval_records=splits["test"][:4],
                 reward_fn=_has_one, on_eval=lambda step, m: seen.append((step, m["accuracy"])) or False)
    m = res.step_metrics[-1]
    assert res.final_step == 1 and seen and seen[0][0] == 1
    assert np.isfinite(m["train/loss"]) and np.isfinite(m["train/grad_norm"])
    if algorithm in ("luffy", "srft"):
        assert m["batch/expert_rows"] == 2  # one expert trajectory per prompt
    if algorithm == "grpo":
        assert "train/kl" in m
    if algorithm == "dapo":  # overlong shaping: responses near 12 tokens are penalised
        assert m["rollout/reward_mean"] < m["rollout/accuracy"]
    if algorithm == "srft":  # recomputed old logprobs: the gap to the sampler's is float noise
        assert m["train/logprob_gap"] < 1e-4
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["rl"]["algorithm"] == algorithm
    assert res.final_model_dir and jaxpt.models.checkpoint.is_jaxpt_checkpoint(res.final_model_dir)


def test_loop_on_a_mesh(setup, tmp_path):
    model, splits = setup
    cfg = _cfg(tmp_path, algorithm="grpo", total_steps=2, num_minibatches=1, gen_prompts=4, train_prompts=4,
               group_size=3, micro_batch_rows=4)
    cfg["mesh"] = {"data": 2, "fsdp": 2, "tensor": 2}
    cfg["rl"]["eval_every"] = 0
    res = run_rl(cfg, model, prompts=splits["rl_prompts"], reward_fn=_has_one)
    assert res.final_step == 2 and res.history == []
    params = res.state["params"]["layers"][0]["w_gate"]
    assert params.addressable_shards[0].data.size < params.size  # really sharded
    assert all(np.isfinite(m["train/loss"]) for m in res.step_metrics)


def test_shipped_configs_build(setup, tmp_path):
    """configs/rl_tiny.py and configs/rl_qwen25_7b_dapo.py resolve and set up (shapes, mesh, optimizer) on a
    tiny stand-in policy; nothing is run."""
    from configs import rl_qwen25_7b_dapo, rl_tiny
    from jaxpt.rl.setup import RLSetup as RLRunner

    model, _ = setup
    tiny = rl_tiny.get_config()
    tiny.workdir, tiny.mesh.data = str(tmp_path / "a"), 1
    tiny = RLRunner(tiny, model)
    assert (tiny.algo.name, tiny.B_gen, tiny.G, tiny.spec.rows) == ("grpo", 16, 8, 128)
    big = rl_qwen25_7b_dapo.get_config()
    big.workdir, big.tokenizer = str(tmp_path / "b"), "toy"
    big.model.param_dtype = big.model.dtype = "float32"
    big.data.rl.source, big.eval.benchmarks = "toy", ""
    runner = RLRunner(big, model)
    a = runner.algo
    assert (a.name, a.dynamic_sampling, a.overlong_shaping, a.loss.clip_eps_high, a.loss.agg_mode) == \
        ("dapo_dc", True, False, 0.28, "token-mean")
    assert (runner.B_gen, runner.B_train, runner.G, runner.N, runner.prompt_len) == (128, 64, 8, 8192, 1024)
    assert runner.behaviour == "sampling" and runner.train_temp == 0.7  # tempered logprobs from the sampler
    assert (runner.num_mb, runner.num_micro, runner.updates_per_step) == (1, 64, 1)
    assert runner.sharder is not None and runner.loss_cfg.kl_coef == 0.0 and runner.ref_params is None
