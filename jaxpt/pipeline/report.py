"""report.md of a pipeline run: the numbers, per-set scores, the SFT validation loss with its regimes, score
against compute, the ceiling fit, the RL curve. Plots are PNGs beside it."""
import pathlib
from typing import List, Optional

from jaxpt.pipeline.plots import plot_score_vs_flops, plot_val_loss

KEYS = ("P0", "P_sft", "P_post", "A_post", "PL_rl", "A_post_identified", "rl_best_observed", "switch_mode",
        "switch_step", "branch_step", "switch_regime", "min_val_loss_step", "min_val_loss", "sft_flops", "probe_flops",
        "rl_flops", "total_flops", "wall_s")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 1e4 else f"{v:.4f}"  # FLOPs in 4 significant digits, scores in 4 decimals
    return str(v)


def write_report(run: pathlib.Path, summary: dict, sft, rl, fits: List[dict]) -> Optional[pathlib.Path]:
    from jaxpt.pipeline.ledger import is_main

    if not is_main():
        return None
    lines = [f"# jaxpt pipeline report: {summary['name']}", "",
             f"Model `{summary['model']}`, paradigm **{summary['paradigm']}**, RL algorithm "
             f"{summary['rl_algorithm']}. Prompts: {summary['prompt']}.", ""]
    lines += ["| quantity | value |", "|---|---|"] + [f"| {k} | {_fmt(summary.get(k))} |" for k in KEYS]
    lines += ["", f"Switch: {summary.get('switch_reason')}", ""]
    lines += ["## Scores per evaluation set", "", "| set | problems | P0 | P_sft | P_post |", "|---|---|---|---|---|"]
    for name, b in summary["benchmarks"].items():
        lines.append(f"| {name} | {b['problems']} | " + " | ".join(
            "" if b[k] is None else f"{b[k]:.3f}" for k in ("P0", "P_sft", "P_post")) + " |")
    lines.append(f"| overall (count-weighted) | {summary['eval_problems']} | {summary['P0']:.3f} | "
                 f"{summary['P_sft']:.3f} | {summary['P_post']:.3f} |")
    lines.append("")
    branch_flops = None
    sft_points = []
    if sft is not None:
        steps = sft.steps
        losses = [h[3] for h in sft.history]
        plot_val_loss(run / "val_loss.png", steps, losses, sft.regimes, sft.switch_step, sft.branch_step,
                      [s for s, _ in sft.train_losses], [v for _, v in sft.train_losses])
        lines += ["## SFT validation loss and regimes", "", "![validation loss](val_loss.png)", ""]
        lines += ["| step | val loss | regime | score |", "|---|---|---|---|"]
        for s, l, r in zip(steps, losses, sft.regimes):
            sc = summary["P0"] if s == 0 else (sft.scores.get(s) or {}).get("overall")
            lines.append(f"| {s} | {l:.4f} | {r} | {'' if sc is None else f'{sc:.3f}'} |")
        lines.append("")
        sft_points = [(sft.flops_at(s), summary["P0"] if s == 0 else sft.scores[s]["overall"])
                      for s in steps if s == 0 or s in sft.scores]
        if sft.branch_step in steps:
            branch_flops = sft.flops_at(sft.branch_step)
    rl_points = [((branch_flops or 0.0) + e["rl_flops"], e["overall"]) for e in rl.evals] if rl is not None else []
    fit = None
    if fits and fits[0].get("method") == "sigmoid":
        f0 = fits[0]
        fit = (f0["PL_rl"] / 100, f0["C_mid"] * 1e18, f0["B"], f0.get("c0") or 0.0, f0["P_sft"] / 100)
    plot_score_vs_flops(run / "score_vs_flops.png", sft_points, rl_points, summary["P0"], branch_flops or 0.0, fit)
    lines += ["## Score against cumulative FLOPs", "", "![score vs FLOPs](score_vs_flops.png)", ""]
    if fits:
        from jaxpt.analysis.report import markdown_table, plot_name

        lines += ["## Plasticity-ceiling fit (gain space, percent)", "", markdown_table(fits), ""]
        lines += [f"![fit of branch {r['sft_step']}](fit/{plot_name(r)})" for r in fits] + [""]
    if rl is not None:
        sets = list(summary["benchmarks"])
        lines += ["## RL evaluations", "", "| RL step | RL FLOPs | overall | " + " | ".join(sets) + " |",
                  "|---|---|---|" + "---|" * len(sets)]
        for e in rl.evals:
            per = " | ".join(f"{e['per'].get(s, float('nan')):.3f}" for s in sets)
            lines.append(f"| {e['step']} | {e['rl_flops']:.3g} | {e['overall']:.3f} | {per} |")
        lines.append("")
    from jaxpt.pipeline.decision_report import decision_section

    lines += decision_section(run, summary.get("rl_stop_gain_per_eflop") or 0.0,
                              summary.get("rl_stop_remaining") or 0.0)
    path = run / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
