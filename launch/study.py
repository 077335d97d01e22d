"""Runs the study of configs/study.py and writes runs/<name>/study.md + study.json with the findings."""
import json
import time

from absl import app, logging
from ml_collections import config_flags

from launch import common

_CONFIG = config_flags.DEFINE_config_file("config", "configs/study.py", "Study config module.")


def main(argv):
    del argv
    common.start()
    from jaxpt.schedule import findings as F
    from jaxpt.schedule import pipeline as P
    from jaxpt.schedule.study import pick_branches, scene_ceilings
    from jaxpt.schedule.scheduler import Scheduler

    cfg, t0 = _CONFIG.value, time.time()
    run = P.run_dir(cfg)
    rows, branch_rows, final, min_losses, compute = [], [], {}, {}, {}
    p0 = None
    for variant in cfg.variants:                                               # data variants
        vcfg = cfg.copy_and_resolve_references()
        vcfg.data.preset = variant
        vrun = run / variant
        data = P.make_data(vcfg, vrun)
        score = P.make_scorer(vcfg, data.test[: vcfg.eval.num_problems])
        if p0 is None:
            p0 = score(P.base_model(vcfg))
        sft = P.run_sft_stage(vcfg, data, vrun, Scheduler.from_config(vcfg.schedule), score)
        min_losses[variant] = sft.result.best_val_loss
        rls = {}
        for step in pick_branches(sft, int(cfg.branches_per_variant)):          # sequential from each branch
            rls[step] = P.run_rl_stage(vcfg, data, vrun, P.branch_model_dir(sft, step), score, name=f"rl_{step}")
            regime = sft.regimes[[h[0] for h in sft.result.history].index(step)]
            branch_rows.append({"scene": variant, "sft_step": step, "regime": regime,
                                "observed": max(a for _, _, a in rls[step].history)})
        rows += P.curve_rows(variant, sft, rls, p0)
        if variant == cfg.paradigm_variant:                                      # the paradigm comparison
            branch = sft.decision.branch_step
            seq = rls[branch]
            steps = [h[0] for h in sft.result.history]
            sft_flops = float(sft.result.history[steps.index(branch)][2])
            final["pure_sft"] = max(sft.scores.values())
            final["sequential"] = seq.history[-1][2]
            compute["pure_sft"] = float(sft.result.history[-1][2])
            compute["sequential"] = sft_flops + float(seq.rl_flops)
            match = cfg.get("paradigm_compute", "rl_steps") == "match_flops"
            base = P.base_model(vcfg)
            for name in [p for p in cfg.paradigms if p not in ("pure_sft", "sequential")]:
                pcfg = vcfg.copy_and_resolve_references()
                pcfg.rl.rl.algorithm = {"pure_rl": vcfg.schedule.rl_algorithm}.get(name, name)
                if match:  # the sequential run's SFT + RL FLOPs; rl.total_steps becomes the cap
                    pcfg.rl.rl.total_steps = int(cfg.paradigm_max_steps)
                experts = data.train if name in ("luffy", "srft", "upt") else None
                res = P.run_rl_stage(pcfg, data, vrun, base, score, name=f"paradigm_{name}", experts=experts,
                                     flops_budget=compute["sequential"] if match else None)
                final[name], compute[name] = res.history[-1][2], float(res.rl_flops)
    curves = P.write_curves(run / "curves.csv", rows)
    fits = P.fit_ceilings(curves, run / "fit")
    by_branch = {(f["scene"], f["sft_step"]): f for f in fits}
    for b in branch_rows:
        b["ceiling"] = F.ceiling_of(by_branch.get((b["scene"], b["sft_step"])), b["observed"])
    ceilings = scene_ceilings(branch_rows)
    noise = F.binomial_noise(max(final.values(), default=0.5), int(cfg.eval.num_problems))
    findings = [F.paradigm_finding(final, noise), F.switch_finding(branch_rows, noise),
                F.scale_finding(ceilings, cfg.large_variant, [v for v in cfg.variants if v != cfg.large_variant]),
                F.correlation_finding(min_losses, ceilings)]
    out = {"final_by_paradigm": final, "flops_by_paradigm": compute, "branches": branch_rows, "ceilings": ceilings,
           "min_val_loss": min_losses, "findings": findings, "wall_s": time.time() - t0}
    (run / "study.json").write_text(json.dumps(out, indent=2, default=float))
    md = ["# jaxpt toy-scale study", "", F.findings_markdown(findings), "",
          "## Final held-out accuracy by paradigm", "",
          f"Compute: {cfg.get('paradigm_compute', 'rl_steps')} (rl_steps: every RL paradigm runs rl.total_steps "
          "from the base model; match_flops: each runs until it has used the sequential run's SFT + RL FLOPs).", "",
          "| paradigm | accuracy | FLOPs |", "|---|---|---|"]
    md += [f"| {k} | {v:.3f} | {compute.get(k, float('nan')):.3g} |" for k, v in final.items()]
    md += ["", "## RL branches", "", "| data | SFT step | regime | best observed | ceiling |", "|---|---|---|---|---|"]
    md += [f"| {b['scene']} | {b['sft_step']} | {b['regime']} | {b['observed']:.3f} | {b['ceiling']:.3f} |"
           for b in branch_rows]
    md += ["", "## Minimum SFT validation loss", ""] + [f"- {k}: {v:.4f}" for k, v in min_losses.items()]
    md += ["", f"Fits: fit/ceilings.md. Wall time {time.time() - t0:.0f} s."]
    (run / "study.md").write_text("\n".join(md) + "\n")
    logging.info("study written to %s", run / "study.md")
    print((run / "study.md").read_text())


if __name__ == "__main__":
    app.run(main)
