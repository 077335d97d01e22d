"""The switch-rule study (configs/study_forecast.py): per data variant one SFT run to the end and full RL
branches from every candidate checkpoint, then the exhaustive search, the min-validation-loss rule and the
forecast switch measured on those same runs (jaxpt.pipeline.switch_rules). A replay that needs a checkpoint
off the grid (a budget's last affordable one) gets that branch run too; it does not join the exhaustive
search. Each variant's outcome is written to <run>/<variant>/switch_rules.json as soon as it is done, so
variants can run in separate processes sharing the run directory (--resume) and a last run over all of them
writes study.md from what is there.
"""
import json
import pathlib
from typing import Dict, List

from jaxpt.pipeline import switch_rules as R


def _overrides(spec: str) -> dict:
    """"probe_patience=2,probe_target=ceiling" -> {"probe_patience": 2, "probe_target": "ceiling"}."""
    out = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
        except ValueError:
            out[k.strip()] = v.strip()
    return out


def run_variant(cfg, vrun: pathlib.Path, variant: str, grid: List[str], tok) -> dict:
    from jaxpt.eval.scorer import Scorer
    from jaxpt.pipeline import ledger as L, stages as S
    from jaxpt.pipeline.findings import binomial_noise
    from jaxpt.schedule.scheduler import Scheduler

    vcfg = cfg.copy_and_resolve_references()
    vcfg.data.toy.preset = variant
    forecast_keys = vcfg.schedule.to_dict()
    vcfg.schedule.switch_mode = "mild"  # the SFT run itself goes to the end; the rules are measured on it
    vcfg.schedule.continue_sft_after_switch = True
    vrun.mkdir(parents=True, exist_ok=True)
    ledger = L.Ledger(vrun)
    scorer = Scorer.from_config(vcfg, tok)
    n = int(sum(scorer.counts.values()))
    S.base_score(vcfg, scorer, ledger)
    sft = S.run_sft_stage(vcfg, vrun, Scheduler.from_config(vcfg.schedule), scorer, ledger, export_all=True)
    algo = vcfg.schedule.rl_algorithm
    branches: Dict[int, list] = {}

    def branch(step: int) -> None:
        rl = S.run_rl_stage(vcfg, vrun, algo, S.branch_model_dir(sft, step), scorer, name=f"rl_{step}",
                            start_score=sft.scores.get(step))
        branches[step] = rl.evals

    grid_steps = R.candidate_steps(sft.history, int(forecast_keys["probe_every"]), [sft.branch_step])
    for step in grid_steps:
        branch(step)
    out = {"variant": variant, "problems": n, "sft_history": sft.history, "regimes": sft.regimes,
           "exhaustive": R.exhaustive(sft.history, dict(branches)),
           "min_val": R.min_val(sft.history, branches, forecast_keys), "forecast": {}}
    for spec in grid:
        settings = {**forecast_keys, **_overrides(spec)}
        r = R.forecast(sft.history, branches, settings, int(vcfg.rl.total_steps), n)
        while r.get("missing_branch") is not None:  # a candidate off the grid (a budget's last one): run it too
            branch(int(r["missing_branch"]))
            r = R.forecast(sft.history, branches, settings, int(vcfg.rl.total_steps), n)
        if settings.get("budget_flops"):  # judged against the best the same runs reach at that budget
            r["oracle"] = R.best_at_budget(sft.history, branches, float(settings["budget_flops"]))
        out["forecast"][spec or "config"] = r
    out["branches"] = {str(k): v for k, v in sorted(branches.items())}
    out["extra_branches"] = sorted(set(branches) - set(grid_steps))  # not part of the exhaustive search
    best = out["exhaustive"]["final"]
    out["noise"] = binomial_noise(best, n)
    (vrun / "switch_rules.json").write_text(json.dumps(out, indent=1, default=float))
    return out


def _cell(r: dict, best: dict, noise: float) -> str:
    """A rule's pick against the reference: the exhaustive best, or with a budget the best the same runs
    reach within that budget."""
    if r.get("missing_branch") is not None:
        return f"needs branch {r['missing_branch']}"
    ref, name = (r["oracle"], "best at the budget") if r.get("oracle") else (best, "exhaustive")
    d = r["final"] - ref["final"]
    ok = "within noise" if d >= -noise else "below"
    text = (f"step {r['branch_step']}: {r['final']:.3f} ({d:+.3f}, {ok}); {r['flops']:.3g} FLOPs "
            f"({r['flops'] / ref['flops']:.0%} of {name})")
    if r.get("oracle"):
        text += f"; {name}: step {ref['branch_step']} {ref['final']:.3f}"
    return text


def write_report(run: pathlib.Path, variants: List[str], grid: List[str], wall_s: float) -> str:
    rows = {}
    for v in variants:
        f = run / v / "switch_rules.json"
        if f.is_file():
            rows[v] = json.loads(f.read_text())
    md = ["# Switch rules on the toy task: exhaustive branching, min validation loss, forecast", "",
          "Scores are final held-out accuracy of the RL branch (fraction); compute is all FLOPs the rule spends "
          "(SFT it trains, probes, RL). 'within noise': at most the noise margin below the exhaustive best "
          "(2 standard errors of a difference of two accuracies on the eval set).", "",
          "| data | exhaustive best | min val loss rule | forecast (" + (grid[0] or "config") + ") | noise |",
          "|---|---|---|---|---|"]
    for v, o in rows.items():
        e = o["exhaustive"]
        md.append(f"| {v} | step {e['branch_step']}: {e['final']:.3f}; {e['flops']:.3g} FLOPs | "
                  f"{_cell(o['min_val'], e, o['noise'])} | {_cell(o['forecast'][grid[0] or 'config'], e, o['noise'])} "
                  f"| {o['noise']:.3f} |")
    if len(grid) > 1:
        md += ["", "## Forecast settings (the same runs, replayed)", "",
               "| data | " + " | ".join(g or "config" for g in grid) + " |", "|---|" + "---|" * len(grid)]
        for v, o in rows.items():
            md.append(f"| {v} | " + " | ".join(_cell(o["forecast"][g or "config"], o["exhaustive"], o["noise"])
                                              for g in grid) + " |")
    md += ["", "## Branches", "", "| data | SFT step | regime | P_sft | final | best | RL FLOPs |",
           "|---|---|---|---|---|---|---|"]
    for v, o in rows.items():
        steps = [int(h[0]) for h in o["sft_history"]]
        for s, ev in sorted(((int(k), e) for k, e in o["branches"].items())):
            md.append(f"| {v} | {s} | {o['regimes'][steps.index(s)]} | {ev[0]['overall']:.3f} | "
                      f"{ev[-1]['overall']:.3f} | {max(e['overall'] for e in ev):.3f} | {ev[-1]['rl_flops']:.3g} |")
    md += ["", "## Forecast decisions (" + (grid[0] or "config") + ")", ""]
    for v, o in rows.items():
        r = o["forecast"][grid[0] or "config"]
        md.append(f"- {v}: probed {r.get('probed')}, SFT stopped at {r.get('sft_stop_step')}; {r.get('reason')}")
        for vd in r.get("verdicts", []):
            t = vd["targets"][str(vd["step"])]
            p = "-" if vd["p_better"] is None else format(vd["p_better"], ".2f")
            md.append(f"  - step {vd['step']}: target {t['median']:.2f} [{t['lo']:.2f}, {t['hi']:.2f}], "
                      f"P(beats best) {p}: {vd['reason']}")
    md += ["", f"Wall time of this invocation {wall_s:.0f} s."]
    text = "\n".join(md) + "\n"
    (run / "study.md").write_text(text)
    (run / "study.json").write_text(json.dumps(rows, indent=1, default=float))
    return text


def run_study(cfg, study: dict, run: pathlib.Path, tok, t0: float) -> str:
    import time

    grid = list(study["forecast_grid"]) or [""]
    for variant in study["variants"]:
        run_variant(cfg, run / variant, variant, grid, tok)
    return write_report(run, list(study["report_variants"] or study["variants"]), grid, time.time() - t0)
