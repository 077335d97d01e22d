"""Three ways to choose the SFT checkpoint RL branches from, measured on the same runs (issue 18, part 4).

Given one SFT run (every validation: step, FLOPs, loss) and full RL branches from every candidate checkpoint:
    exhaustive  the branch that ends highest; it costs the whole SFT run plus every branch;
    min_val     the paper's rule (switch_mode "mild"): SFT until mild overfitting is detected, RL from the
                minimum-validation-loss checkpoint; costs SFT to the detection plus that branch;
    forecast    switch_mode "forecast": probes from the first Stable point on, SFT until the forecast stops
                it, RL continued from the best probe; costs SFT to its stop, every probe, and the rest of the
                chosen branch.
The forecast rule is replayed on the recorded streams: its probe of a checkpoint is the prefix of that
checkpoint's full branch up to the first evaluation reaching probe_flops, which is exactly what the pipeline's
probe sees (same seed and data order; RL resume continues it exactly), and its continued branch is the full
branch. Pure functions of plain numbers.
"""
from typing import Dict, List, Optional, Sequence

from jaxpt.schedule.forecast_switch import ForecastSwitch
from jaxpt.schedule.probes import Probe
from jaxpt.schedule.scheduler import Scheduler

History = Sequence[Sequence[float]]  # (step, tokens, cumulative SFT FLOPs, validation loss) per validation


def _final(evals: List[dict]) -> float:
    return float(evals[-1]["overall"])


def _flops(evals: List[dict]) -> float:
    return float(max(e["rl_flops"] for e in evals))


def _sft_flops(history: History, step: int) -> float:
    return next(float(h[2]) for h in history if int(h[0]) == int(step))


def exhaustive(history: History, branches: Dict[int, List[dict]]) -> dict:
    best = max(sorted(branches), key=lambda s: _final(branches[s]))
    last = max(int(h[0]) for h in history)
    compute = _sft_flops(history, last) + sum(_flops(e) for e in branches.values())
    return {"rule": "exhaustive", "branch_step": best, "final": _final(branches[best]), "flops": compute,
            "sft_stop_step": last, "branches": sorted(branches)}


def min_val(history: History, branches: Dict[int, List[dict]], schedule: dict) -> dict:
    """The paper's rule replayed with the schedule's detector settings (delta, delta2, patience, smoothing)."""
    sched = Scheduler("sequential", switch_mode="mild", **{k: schedule[k] for k in
                                                           ("delta", "delta2", "patience", "smoothing")})
    stop = None
    for step, _, flops, loss in history:
        if sched.on_sft_eval(int(step), float(loss), float(flops)).switch:
            stop = int(step)
            break
    d = sched.decision or sched.finish_sft()
    stop = stop if stop is not None else max(int(h[0]) for h in history)
    b = d.branch_step
    if b not in branches:
        return {"rule": "min_val", "branch_step": b, "final": None, "flops": None, "sft_stop_step": stop,
                "missing_branch": True}
    return {"rule": "min_val", "branch_step": b, "final": _final(branches[b]),
            "flops": _sft_flops(history, stop) + _flops(branches[b]), "sft_stop_step": stop, "reason": d.reason}


def forecast(history: History, branches: Dict[int, List[dict]], schedule: dict, rl_total_steps: int,
             n_problems: int, prior=None, name: str = "forecast") -> dict:
    """switch_mode "forecast" replayed: schedule holds the schedule section's forecast keys and detector
    settings. A candidate without a recorded branch is reported (missing_branch) instead of guessed."""
    fs = ForecastSwitch(schedule["probe_flops"], schedule["probe_every"], schedule["probe_confidence"],
                        schedule["probe_patience"], schedule["probe_target"], rl_total_steps,
                        schedule.get("budget_flops", 0.0), prior, n_problems)
    sched = Scheduler("sequential", switch_mode="forecast", forecast=fs,
                      **{k: schedule[k] for k in ("delta", "delta2", "patience", "smoothing")})
    total = max(int(h[0]) for h in history)
    stop = total
    for step, _, flops, loss in history:
        step = int(step)
        d = sched.on_sft_eval(step, float(loss), float(flops))
        if d.probe:
            if step not in branches:
                return {"rule": name, "missing_branch": step}
            sched.on_probe(Probe.from_evals(step, float(flops), branches[step]).prefix(fs.probe_flops),
                           final=step >= total)
            if sched.decision is not None:
                stop = step
                break
    if sched.decision is None and sched.detector.settled_step is not None and \
            all(p.step != total for p in fs.probes):  # SFT ran out: its last model is a candidate too
        if total not in branches:
            return {"rule": name, "missing_branch": total}
        sched.on_probe(Probe.from_evals(total, _sft_flops(history, total), branches[total]).prefix(fs.probe_flops),
                       final=True)
    d = sched.decision or sched.finish_sft()
    b = d.branch_step
    probes = {p.step: p.flops for p in fs.probes}
    chosen = branches.get(b)
    if chosen is None:
        return {"rule": name, "missing_branch": b}
    plan = fs.plan()
    if plan is not None:  # RL runs to the plan's compute: the branch up to the first evaluation reaching it
        chosen = Probe.from_evals(b, 0.0, chosen).prefix(plan.choice.rl_flops)
        chosen = [{"overall": s, "rl_flops": x} for s, x in zip(chosen.scores, chosen.rl_flops)]
    compute = _sft_flops(history, stop) + sum(f for s, f in probes.items() if s != b) + _flops(chosen)
    return {"rule": name, "branch_step": b, "final": _final(chosen), "flops": compute, "sft_stop_step": stop,
            "probed": sorted(probes), "probe_flops": sum(probes.values()), "reason": d.reason,
            "plan": plan.as_dict() if plan is not None else None, "verdicts": [v.as_dict() for v in fs.verdicts]}


def best_at_budget(history: History, branches: Dict[int, List[dict]], budget: float) -> Optional[dict]:
    """The oracle at a budget: over the recorded branches, SFT to the branch point plus RL up to the last
    evaluation the rest of the budget pays for; the highest score found (None if no branch fits)."""
    best = None
    for s, evals in sorted(branches.items()):
        left = budget - _sft_flops(history, s)
        fit = [e for e in evals if e["rl_flops"] <= left]
        if not fit:
            continue
        e = fit[-1]
        if best is None or e["overall"] > best["final"]:
            best = {"rule": "oracle_at_budget", "branch_step": s, "final": float(e["overall"]),
                    "flops": _sft_flops(history, s) + float(e["rl_flops"]), "rl_step": e.get("step")}
    return best


def candidate_steps(history: History, every: int, extra: Sequence[Optional[int]] = ()) -> List[int]:
    """Branch points of the exhaustive search: every `every`-th validation (the forecast's candidate grid,
    which counts validations from step 0) after step 0, the last one, and any `extra` step."""
    steps = [int(h[0]) for h in history]
    grid = {s for i, s in enumerate(steps) if i % every == 0 and s > 0} | {steps[-1]}
    return sorted(grid | {int(s) for s in extra if s})
