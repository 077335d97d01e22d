"""On the embedded arithmetic task, a short GRPO run from a partly trained SFT checkpoint raises greedy
held-out accuracy (500 problems) by a margin that neither evaluation noise nor seed noise explains.

The task is the embedded one (jaxpt.data.toy_task's chain format and \\boxed{} answers) at its smallest
size, 2 operations on operands 0..9, so that SFT reaches a partly trained policy (~50%) in ~300 steps of a
4-layer, hidden-64 model. Measured here (2 cores, shared): SFT 300 steps -> 48.6%; GRPO lr 1e-4, 16 prompts
x 8 samples, 20 steps -> 63.4% / 64.8% / ... for seeds 0 / 1 (see the RL issue report for more seeds).
Checks per seed: the lift is >= 6 points, and McNemar's paired statistic on the 500 problems
(fixed - broken) / sqrt(fixed + broken) is >= 3 (evaluation noise alone gives |z| < 3 with p > 0.997).
"""
import os
import random

import jax
import numpy as np
import pytest

from jaxpt.data.tasks import toy as toy_task
from jaxpt.data.formatting import PromptFormat
from jaxpt.data.tokenizer import load_tokenizer
from jaxpt.models.model import Model
from jaxpt.data.prompts import tokenize_prompts
from jaxpt.rl.learner import run_rl
from jaxpt.rl.rollout import verifier_reward_fn
from jaxpt.sample.core import sample
from jaxpt.sample.sampler import left_pad
from jaxpt.sample.settings import SampleSettings, length_bucket

pytestmark = pytest.mark.slow

OPS, MAX_OPERAND = 2, 9
# More seeds for a report: JAXPT_RL_LIFT_SEEDS=0,1,2,3
SEEDS = tuple(int(x) for x in os.environ.get("JAXPT_RL_LIFT_SEEDS", "0,1").split(","))
RL_STEPS = 20


def _problem(rng: random.Random) -> dict:
    """A chain like toy_task.make_problem, at 2 operations on operands 0..9 (non-negative intermediates)."""
    cur = rng.randint(0, MAX_OPERAND)
    expr, steps = str(cur), []
    for _ in range(OPS):
        b, op = rng.randint(0, MAX_OPERAND), rng.choice("+-")
        if op == "-" and b > cur:
            op = "+"
        new = cur + b if op == "+" else cur - b
        steps.append((cur, op, b, new))
        expr += f"{op}{b}"
        cur = new
    return {"question": f"{expr}=?", "solution": toy_task.render_solution(steps, cur, rng, 0.0), "answer": str(cur)}


def _records(n: int, seed: int, seen: set) -> list:
    rng, out = random.Random(seed), []
    while len(out) < n:
        r = _problem(rng)
        if r["question"] not in seen:
            seen.add(r["question"])
            out.append(r)
    return out


@pytest.fixture(scope="session")
def toy_sft(tmp_path_factory):
    """A partly trained SFT policy (trained once per test session) and the data splits."""
    from jaxpt.train.sft_loop import run_sft

    seen: set = set()
    held_out = _records(500, 1, seen)
    val = _records(200, 2, seen)
    train = _records(1000, 3, seen)  # SFT trajectories; RL prompts are the same questions
    res = run_sft({
        "workdir": str(tmp_path_factory.mktemp("rl_toy_sft")), "tokenizer": "toy", "mesh": {"data": 1},
        "prompt": {"template": "{question}"}, "data": {"sft": {"max_len": 64}},
        "model": {"init_from": "tiny-qwen", "overrides": {"hidden_size": 64, "intermediate_size": 176,
                                                          "num_layers": 4, "num_heads": 4, "num_kv_heads": 2}},
        "sft": {"total_steps": 300, "batch_rows": 16, "eval_every": 300, "eval_at_start": False,
                "checkpoint_every": 100000, "export_best": False},
        "optim": {"lr": 3e-3, "schedule": "constant", "b2": 0.98, "warmup_steps": 20},
        "log": {"progress": False, "tensorboard": False}}, records=(train, val))
    model = Model(res.model_config, res.state["params"], tokenizer_dir=res.tokenizer_dir)
    return model, train, held_out


def evaluate_correct(params, cfg, prompts, tokenizer, settings, reward_fn, seed: int = 0) -> np.ndarray:
    """An evaluation independent of the loop's (jaxpt.eval.scorer): every prompt at once through the sampler,
    greedy at temperature 0, verified; bool [len(prompts) * n] (prompt-major)."""
    ids = prompts.prompt_ids
    tokens, mask = left_pad(ids, length_bucket(max(len(p) for p in ids)), len(ids), settings.pad_id)
    st = sample(params, cfg, jax.device_put(tokens), jax.device_put(mask), jax.random.key(seed), settings)
    toks, lens = jax.device_get((st.tokens, st.lengths))
    texts = tokenizer.batch_decode([t[:k].tolist() for t, k in zip(toks, lens)], skip_special_tokens=True)
    golds = [prompts.answers[i // settings.n] for i in range(len(texts))]
    ok, _ = reward_fn(texts, golds)
    return np.asarray(ok, bool)


def _correct(model, records):
    tok = load_tokenizer(model.tokenizer_dir)
    prompts, _ = tokenize_prompts(records, tok, PromptFormat())
    settings = SampleSettings(max_new_tokens=32, temperature=0.0, eos_ids=(tok.eos_token_id,), pad_id=tok.pad_token_id)
    return evaluate_correct(model.params, model.config, prompts, tok, settings, verifier_reward_fn())


def test_grpo_lifts_heldout_accuracy_over_seeds(toy_sft, tmp_path):
    model, train, held_out = toy_sft
    base = _correct(model, held_out)
    assert len(base) == 500
    assert 0.25 <= base.mean() <= 0.75, f"SFT fixture should be partly trained, got {base.mean():.3f}"
    lifts = []
    for seed in SEEDS:
        points = []
        res = run_rl({"workdir": str(tmp_path / f"seed{seed}"), "seed": seed, "tokenizer": "toy", "mesh": {"data": 1},
                      "prompt": {"template": "{question}"},
                      "rl": {"algorithm": "grpo", "agg_mode": "token-mean", "total_steps": RL_STEPS,
                             "gen_prompts": 16, "group_size": 8, "max_new_tokens": 32, "temperature": 1.0,
                             "eval_every": RL_STEPS, "checkpoint_every": 0, "export_final": False},
                      "optim": {"lr": 1e-4},
                      "eval": {"max_new_tokens": 32, "batch_size": 256},
                      "log": {"progress": False, "tensorboard": False}},
                     model, prompts=train, eval_records=held_out,
                     on_eval=lambda step, m: points.append((step, m["rl_flops"], m["accuracy"])) or False)
        assert res.history == points and [p[0] for p in points] == [0, RL_STEPS]
        assert res.history[0][2] == pytest.approx(base.mean())  # the loop's eval agrees with ours
        assert res.history[-1][1] > 0  # cumulative RL FLOPs on the x axis
        after = _correct(Model(res.model_config, res.state["params"], tokenizer_dir=model.tokenizer_dir), held_out)
        assert after.mean() == pytest.approx(res.history[-1][2])
        fixed, broken = int((after & ~base).sum()), int((base & ~after).sum())
        z = (fixed - broken) / max(np.sqrt(fixed + broken), 1.0)
        lift = after.mean() - base.mean()
        lifts.append(lift)
        print(f"seed {seed}: {base.mean():.3f} -> {after.mean():.3f} (lift {lift:+.3f}; fixed {fixed}, "
              f"broken {broken}, McNemar z {z:.1f}); rollout accuracy {res.step_metrics[0]['rollout/accuracy']:.3f} -> "
              f"{np.mean([m['rollout/accuracy'] for m in res.step_metrics[-5:]]):.3f}")
        assert lift >= 0.06, f"seed {seed}: lift {lift:+.3f}"
        assert z >= 3.0, f"seed {seed}: McNemar z {z:.2f} (fixed {fixed}, broken {broken})"
    assert min(lifts) > 0.06
