"""Runs the study of configs/study.py and writes <out_dir>/<name>/study.md + study.json with the findings.
With switch_rules (configs/study_forecast.py) it compares the rules that choose the RL branch point instead."""
import json
import time

from absl import app, logging
from ml_collections import config_flags

from launch import common

_CONFIG = config_flags.DEFINE_config_file("config", "configs/study.py", "Study config module.", lock_config=False)
STUDY_KEYS = ("variants", "large_variant", "paradigm_variant", "paradigms", "paradigm_compute", "paradigm_max_steps",
              "branches_per_variant", "switch_rules", "forecast_grid", "report_variants")


def main(argv):
    del argv
    common.start()
    import ml_collections

    from jaxpt.eval.scorer import Scorer
    from jaxpt.pipeline import curves as C, findings as F, ledger as L, stages as S, summary as Y
    from jaxpt.pipeline.study import pick_branches, scene_ceilings
    from jaxpt.schedule.scheduler import Scheduler, paradigm
    from jaxpt.train.setup import load_stage_tokenizer

    raw = _CONFIG.value
    study = {k: raw.get(k) for k in STUDY_KEYS}
    cfg = common.config(ml_collections.ConfigDict({k: raw[k] for k in raw.keys() if k not in STUDY_KEYS}),
                        "pipeline")
    t0 = time.time()
    run = L.run_dir(cfg, resume=cfg.checkpoint.resume)
    rows, branch_rows, final, min_losses, compute, p0 = [], [], {}, {}, {}, None
    _, tok = load_stage_tokenizer(cfg)
    if study["switch_rules"]:  # exhaustive branching vs the min-val-loss rule vs the forecast switch
        from jaxpt.pipeline.switch_study import run_study

        print(run_study(cfg, study, run, tok, t0))
        return
    sets = None
    for variant in study["variants"]:                                           # data variants
        vcfg = cfg.copy_and_resolve_references()
        vcfg.data.toy.preset = variant
        vrun = run / variant
        vrun.mkdir(parents=True, exist_ok=True)
        ledger = L.Ledger(vrun)
        scorer = Scorer.from_config(vcfg, tok)
        sets = list(scorer.sets)
        p0 = S.base_score(vcfg, scorer, ledger)
        sft = S.run_sft_stage(vcfg, vrun, Scheduler.from_config(vcfg.schedule), scorer, ledger, export_all=True)
        min_losses[variant] = sft.best_val_loss
        rls = {}
        algo = vcfg.schedule.rl_algorithm
        for step in pick_branches(sft, int(study["branches_per_variant"])):    # sequential from each branch
            rls[step] = S.run_rl_stage(vcfg, vrun, algo, S.branch_model_dir(sft, step), scorer, name=f"rl_{step}",
                                       start_score=sft.scores.get(step))
            branch_rows.append({"scene": variant, "sft_step": step, "regime": sft.regimes[sft.steps.index(step)],
                                "observed": max(e["overall"] for e in rls[step].evals)})
        rows += C.curve_rows(variant, sets, p0, sft, rls)
        if variant == study["paradigm_variant"]:                                # the paradigm comparison
            seq = rls[sft.branch_step]
            final["pure_sft"] = max(v["overall"] for v in sft.scores.values())
            final["sequential"] = seq.evals[-1]["overall"]
            compute["pure_sft"] = float(sft.history[-1][2])
            compute["sequential"] = sft.flops_at(sft.branch_step) + float(seq.rl_flops)
            match = study["paradigm_compute"] == "match_flops"
            for name in [p for p in study["paradigms"] if p not in ("pure_sft", "sequential")]:
                res = S.run_rl_stage(vcfg, vrun, paradigm(name, algo).rl, S.base_model(vcfg), scorer,
                                     name=f"paradigm_{name}", flops_budget=compute["sequential"] if match else None,
                                     max_steps=int(study["paradigm_max_steps"]) if match else None, start_score=p0)
                final[name], compute[name] = res.evals[-1]["overall"], float(res.rl_flops)
    curves = C.write_curves(run / "curves.csv", rows, sets)
    fits = Y.fit_ceilings(curves, run / "fit", scorer.counts)
    by_branch = {(f["scene"], f["sft_step"]): f for f in fits}
    for b in branch_rows:
        b["ceiling"] = F.ceiling_of(by_branch.get((b["scene"], b["sft_step"])), b["observed"])
    ceilings = scene_ceilings(branch_rows)
    noise = F.binomial_noise(max(final.values(), default=0.5), int(sum(scorer.counts.values())))
    findings = [F.paradigm_finding(final, noise), F.switch_finding(branch_rows, noise),
                F.scale_finding(ceilings, study["large_variant"],
                                [v for v in study["variants"] if v != study["large_variant"]]),
                F.correlation_finding(min_losses, ceilings)]
    out = {"final_by_paradigm": final, "flops_by_paradigm": compute, "branches": branch_rows, "ceilings": ceilings,
           "min_val_loss": min_losses, "findings": findings, "wall_s": time.time() - t0}
    (run / "study.json").write_text(json.dumps(out, indent=2, default=float))
    md = ["# jaxpt study", "", F.findings_markdown(findings), "",
          "## Final held-out accuracy by paradigm", "",
          f"Compute: {study['paradigm_compute']} (rl_steps: every RL paradigm runs rl.total_steps from the base "
          "model; match_flops: each runs until it has used the sequential run's SFT + RL FLOPs).", "",
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
    common.add_config_help("pipeline")
    app.run(main, flags_parser=common.parse_flags)
