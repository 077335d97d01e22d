"""A step's FLOPs (algorithms.md section 4) and its metrics row (rollout, dynamic sampling, batch, update, timing).

All host side: inputs are the rollout's collection (jaxpt.rl.rollout), the assembled batch (jaxpt.rl.batch),
the update plan (jaxpt.rl.microbatch) and the fetched per-update metrics.
"""
from typing import Tuple

import numpy as np

from jaxpt.analysis import flops as flops_lib


def step_flops(cfg, algo, B_gen: int, G: int, col: dict, batch_info: dict, batch: dict) -> Tuple[float, dict]:
    """(FLOPs of the step by the paper's formulas, {seq_len_on, gen_rows})."""
    rounds = col["rounds"]
    gen_rows = sum(len(r.lengths) for r in rounds) + col["wasted_rounds"] * B_gen * G
    plen = np.concatenate([np.repeat(r.prompt_mask.sum(1), G) for r in rounds])
    rlen = np.concatenate([r.lengths for r in rounds])
    s_on = float(np.mean(plen + rlen))
    k = len(rounds) + col["wasted_rounds"]
    n_kept = len(col["kept"])
    if algo.batch_mode == "rollouts":
        f = flops_lib.dapo_step_flops(cfg, B_gen, n_kept, G, s_on, gen_rounds=k)
    else:
        off = batch["off"] + batch["sft"] > 0
        s_off = float(np.mean(batch["attn"][off].sum(1))) if off.any() else 0.0
        if algo.batch_mode == "mixed":
            f = flops_lib.luffy_step_flops(cfg, n_kept, G, s_on, algo.num_expert, s_off)
            if k > 1:  # extra dynamic-sampling rounds: generation only
                f += (k - 1) * B_gen * G * s_on * flops_lib.forward_flops_per_token(cfg, s_on)
        else:
            f = flops_lib.upt_step_flops(cfg, n_kept, G, s_on, batch_info["onpolicy_rows"],
                                         batch_info["sft_rows"], s_off)
    return float(f), {"seq_len_on": s_on, "gen_rows": gen_rows}


def step_metrics(s, col: dict, binfo: dict, batch: dict, plan, ms: list, extra: dict, f: float, finfo: dict,
                 rl_flops: float, times: dict) -> dict:
    """The metrics row of one step. s: the run's RLSetup; ms: per-update metrics (fetched); extra: device sums
    of the step (recompute gap); times: step_s, update_s."""
    rounds = col["rounds"]
    correct = np.concatenate([x.correct for x in rounds]).astype(np.float32)
    reward = np.concatenate([x.reward for x in rounds])
    lengths = np.concatenate([x.lengths for x in rounds])
    trunc = np.concatenate([x.truncated for x in rounds])
    gen_prompts = sum(x.num_prompts for x in rounds)
    nan = float("nan")
    first, last = (ms[0], ms[-1]) if ms else ({}, {})
    get = lambda d, k: float(d.get(k, nan))  # noqa: E731
    gen_tokens = int(lengths.sum())
    train_tokens = int(batch["attn"].sum()) * int(s.c.rl.ppo_epochs)
    step_s = times["step_s"]
    has = batch["mask"].sum(1) > 0  # rows that train
    st = plan.stats
    gap = extra.get("recompute_gap")
    m = {
        "rollout/reward_mean": float(reward.mean()), "rollout/accuracy": float(correct.mean()),
        "rollout/response_len_mean": float(lengths.mean()), "rollout/response_len_max": int(lengths.max()),
        "rollout/truncation_rate": float(trunc.mean()),
        "batch/reward_mean": float(batch["reward"][has].mean()) if has.any() else 0.0,
        "batch/adv_abs_mean": float(np.abs(batch["adv"][has]).mean()) if has.any() else 0.0,
        "batch/loss_tokens": float(batch["mask"].sum()),
        "ds/rounds": len(rounds), "ds/wasted_rounds": col["wasted_rounds"],
        "ds/kept_groups": len(col["kept"]), "ds/kept_fraction": len(col["kept"]) / max(gen_prompts, 1),
        "ds/informative_fraction": col["informative"] / max(gen_prompts, 1),
        "ds/batch_fill": len(col["kept"]) / s.B_train,
        "train/loss": get(last, "loss"), "train/pg_loss": get(last, "pg_loss"),
        "train/grad_norm": get(last, "grad_norm"), "train/lr": get(last, "lr"),
        "train/clip_frac": float(np.mean([x.get("clip_frac", 0.0) for x in ms])) if ms else nan,
        "train/dual_clip_frac": float(np.mean([x.get("dual_clip_frac", 0.0) for x in ms])) if ms else nan,
        "train/entropy": get(first, "entropy"),
        "train/approx_kl": get(last, "approx_kl"),
        # Sampler vs trainer logprobs on the first update, before the parameters move.
        "train/logprob_gap": get(first, "logprob_gap") if gap is None else gap,
        "train/skipped_updates": plan.skipped,
        # The work the update did not do: inert rows left out, padding trimmed (positions computed / padded).
        "update/rows": st["rows"], "update/rows_inert": st["rows_inert"],
        "update/micro_batches": st["micro_batches"],
        "update/padding_fraction": 1.0 - st["tokens_real"] / max(st["tokens_computed"], 1),
        "update/computed_fraction": st["tokens_computed"] / max(st["tokens_full"], 1),
        "perf/step_s": step_s, "perf/gen_s": col["gen_s"], "perf/score_s": col["score_s"],
        "perf/score_wait_s": col["score_wait_s"], "perf/update_s": times["update_s"],
        "perf/tokens_per_s": (gen_tokens + train_tokens) / max(step_s, 1e-9),
        "perf/gen_tokens_per_s": gen_tokens / max(col["gen_s"], 1e-9),
        "flops/step": f, "flops/rl_cumulative": float(rl_flops), "flops/seq_len": finfo["seq_len_on"],
    }
    if "kl" in last:
        m["train/kl"] = float(last["kl"])
    for k in ("w_sft", "w_pos", "off_prob"):
        if k in first:
            m[f"train/{k}"] = float(first[k])
    for k, v in binfo.items():
        m[f"batch/{k}"] = v
    for k, v in col["verifier"].items():
        m[f"verifier/{k}"] = v
    return m


def write_samples(f, step: int, col: dict, prompts, tok, G: int, count: int) -> None:
    """The first `count` rollouts of the step's first round, one row each, to a jaxpt.utils.metrics.JsonlLog."""
    rnd = col["rounds"][0]
    for i in range(min(int(count), len(rnd.texts))):
        p = int(rnd.prompt_ids[i // G])
        f.write({"step": step, "prompt": tok.decode(prompts.prompt_ids[p]), "question": prompts.records[p]["question"],
                 "answer": prompts.answers[p], "response": rnd.texts[i], "correct": bool(rnd.correct[i]),
                 "reward": float(rnd.reward[i]), "length": int(rnd.lengths[i])})
