"""The report's section on the forecast-driven decisions (decisions.jsonl): tables and two plots.

forecast_probes.png  left: every probe's evaluations and its forecast curve with the interval, out to the
                     compute it was judged at; right: each candidate's target (median and interval) by SFT step,
                     the chosen branch marked.
rl_stop.png          under rl.stop = "forecast": the upper end of the marginal and of the remaining gain after
                     each RL evaluation, against the bounds that stop RL.
"""
import pathlib
from typing import List

from jaxpt.schedule.decision_log import read_decisions
from jaxpt.utils.plotting import pyplot, save


def _f(v, nd=2) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _g(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def plot_probes(path, probes: List[dict], branch_step) -> None:
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(probes):
        color = f"C{i % 10}"
        p, band = r["probe"], r["band"]
        chosen = r["step"] == branch_step
        ax.plot(band["x_flops"], band["median"], color=color, lw=2.0 if chosen else 1.0,
                label=f"step {r['step']}" + (" (branch)" if chosen else ""))
        ax.fill_between(band["x_flops"], band["lo"], band["hi"], color=color, alpha=0.12, lw=0)
        ax.plot(p["rl_flops"], [100 * s for s in p["scores"]], "o", color=color, ms=4)
    ax.set_xlabel("RL FLOPs from the branch point")
    ax.set_ylabel("score (points)")
    ax.set_title("Probes and their forecasts (95% band)")
    ax.legend(fontsize=7)
    last = probes[-1]["verdict"]["targets"]
    steps = sorted(int(s) for s in last)
    med = [last[str(s)]["median"] for s in steps]
    lo = [last[str(s)]["median"] - last[str(s)]["lo"] for s in steps]
    hi = [last[str(s)]["hi"] - last[str(s)]["median"] for s in steps]
    bx.errorbar(steps, med, yerr=[lo, hi], fmt="o-", capsize=3, color="C0")
    if branch_step in steps:
        bx.axvline(branch_step, color="C2", ls="--", label=f"RL continues from step {branch_step}")
    kind = last[str(steps[0])]["kind"] if steps else ""
    bx.set_xlabel("SFT step of the candidate")
    bx.set_ylabel("A_post (points)" if kind == "ceiling" else "forecast score at the horizon (points)")
    bx.set_title("Candidates at the final decision")
    bx.legend(fontsize=7)
    save(fig, path)


def plot_rl_checks(path, checks: List[dict], gain_bound: float, remaining_bound: float) -> None:
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    x = [c["rl_flops"] for c in checks]
    ax.plot(x, [max(c["gain_per_eflop"][2], 1e-12) for c in checks], "o-", label="upper end (95%)")
    ax.plot(x, [max(c["gain_per_eflop"][0], 1e-12) for c in checks], "s--", ms=3, label="median")
    if gain_bound:
        ax.axhline(gain_bound, color="C3", ls=":", label="rl.stop_gain_per_eflop")
    ax.set_yscale("log")
    ax.set_xlabel("RL FLOPs")
    ax.set_ylabel("marginal gain (points per EFLOP)")
    ax.legend(fontsize=7)
    bx.plot(x, [c["remaining"][2] for c in checks], "o-", label="upper end (95%)")
    bx.plot(x, [c["remaining"][0] for c in checks], "s--", ms=3, label="median")
    if remaining_bound:
        bx.axhline(remaining_bound, color="C3", ls=":", label="rl.stop_remaining")
    bx.set_xlabel("RL FLOPs")
    bx.set_ylabel("remaining gain (points)")
    bx.legend(fontsize=7)
    for a, c in ((ax, checks[-1]), (bx, checks[-1])):
        if c["stop"]:
            a.axvline(c["rl_flops"], color="C2", ls="--")
    save(fig, path)


def decision_section(run: pathlib.Path, gain_bound: float = 0.0, remaining_bound: float = 0.0) -> List[str]:
    """Markdown lines (plots written beside) for the decisions of the run, [] when it took none."""
    recs = read_decisions(run)
    if not recs:
        return []
    probes = [r for r in recs if r["kind"] == "probe"]
    switch = next((r for r in recs if r["kind"] == "switch"), None)
    checks = [r for r in recs if r["kind"] == "rl_check"]
    lines = ["## Forecast decisions", "", "Every decision and the forecast behind it: `decisions.jsonl`.", ""]
    if probes:
        branch = switch["branch_step"] if switch else None
        plot_probes(run / "forecast_probes.png", probes, branch)
        lines += ["![probes](forecast_probes.png)", "",
                  "| candidate | SFT FLOPs | P_sft | probe RL FLOPs | evaluations | A_post [95%] | identified | target "
                  "| target median [95%] | P(beats best) | SFT goes on | why |", "|---" * 12 + "|"]
        for r in probes:
            fc, v, p = r["forecast"], r["verdict"], r["probe"]
            t = v["targets"][str(r["step"])]
            where = "A_post" if t["kind"] == "ceiling" else f"score at {_g(t['x_flops'])} RL FLOPs"
            lines.append(
                f"| {r['step']} | {_g(p['sft_flops'])} | {_f(fc['P_sft'])} | {_g(max(p['rl_flops']))} | "
                f"{len(p['scores'])} | {_f(fc['A_post'])} [{_f(fc['A_post_interval'][0])}, "
                f"{_f(fc['A_post_interval'][1])}] | {'yes' if fc['identified'] else 'no'} | {where} | "
                f"{_f(t['median'])} [{_f(t['lo'])}, {_f(t['hi'])}] | {_f(v['p_better'])} | "
                f"{'yes' if v['continue_sft'] else 'no'} | {v['reason']} |")
        lines.append("")
    if switch is not None:
        lines += [f"Switch: {switch['reason']} (SFT + probes spent {_g(switch['spent_flops'])} FLOPs).", ""]
        plan = switch.get("plan")
        if plan:
            pr = plan["predicted"]
            lines += [f"Budget plan: {_g(plan['budget'])} FLOPs in all. RL continues from step {plan['branch_step']} "
                      f"to {_g(plan['rl_flops'])} RL FLOPs (probe included), {_g(plan['total_flops'])} FLOPs in all; "
                      f"forecast score at the budget {_f(pr['median'])} [{_f(pr['lo'])}, {_f(pr['hi'])}].", "",
                      "| candidate | RL FLOPs at the budget | forecast score [95%] |", "|---|---|---|"]
            lines += [f"| {o['step']} | {_g(o['rl_flops'])} | {_f(o['predicted']['median'])} "
                      f"[{_f(o['predicted']['lo'])}, {_f(o['predicted']['hi'])}] |" for o in plan["options"]]
            lines.append("")
    if checks:
        plot_rl_checks(run / "rl_stop.png", checks, gain_bound, remaining_bound)
        lines += ["### RL stop rule (rl.stop = forecast)", "", "![rl stop](rl_stop.png)", "",
                  "| RL step | RL FLOPs | gain per EFLOP [95%] | remaining gain [95%] | A_post | stop | why |",
                  "|---|---|---|---|---|---|---|"]
        for c in checks:
            g, m = c["gain_per_eflop"], c["remaining"]
            lines.append(f"| {c['step']} | {_g(c['rl_flops'])} | {_g(g[0])} [{_g(g[1])}, {_g(g[2])}] | "
                         f"{_f(m[0])} [{_f(m[1])}, {_f(m[2])}] | {_f(c['forecast']['A_post'])} | "
                         f"{'yes' if c['stop'] else 'no'} | {c['reason']} |")
        lines.append("")
    return lines
