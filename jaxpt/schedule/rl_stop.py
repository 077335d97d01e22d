"""rl.stop = "forecast": stop RL once the forecast says it has stopped paying.

After every RL evaluation the branch's evaluations so far are forecast, and RL stops when either
    gain_per_eflop(x_now).hi < rl.stop_gain_per_eflop    (even the optimistic marginal gain is too small), or
    remaining_gain(x_now).hi < rl.stop_remaining          (the ceiling is reached within its interval).
The upper ends of the intervals keep both false while the data cannot bound the ceiling (a curve that has not
bent yet), so an unidentified branch is never stopped early; rl.total_steps (or a budget) still caps it.
Units: points per EFLOP (1e18 FLOPs) and score points (0-100).
"""
import dataclasses
from typing import Callable, List, Optional

from jaxpt.analysis.forecast_prior import SigmoidPrior
from jaxpt.schedule.probes import EFLOP, Probe, forecast_probe

MIN_POINTS = 3  # evaluations after the branch point before the rule may fire: two points fit any curve


@dataclasses.dataclass
class StopCheck:
    step: int
    rl_flops: float
    stop: bool
    reason: str
    gain_per_eflop: List[float]  # median, lo, hi at x_now
    remaining: List[float]  # points: median, lo, hi
    forecast: dict

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_stop(probe: Probe, gain_per_eflop_bound: float, remaining_bound: float,
               prior: Optional[SigmoidPrior] = None, n_problems: int = 0) -> StopCheck:
    """The stop rule on a branch's evaluations so far (a Probe: its rl_flops, scores and branch score)."""
    fc = forecast_probe(probe, prior, n_problems)
    x_now = probe.flops / EFLOP
    g = fc.gain_per_eflop([x_now])
    r = fc.remaining_gain([x_now])
    gain = [float(g.median[0]), float(g.lo[0]), float(g.hi[0])]
    rem = [float(r.median[0]), float(r.lo[0]), float(r.hi[0])]
    n_after = sum(1 for x in probe.rl_flops if x > 0)
    reasons = []
    if gain_per_eflop_bound > 0 and gain[2] < gain_per_eflop_bound:
        reasons.append(f"gain per EFLOP at most {gain[2]:.3g} < {gain_per_eflop_bound:.3g}")
    if remaining_bound > 0 and rem[2] < remaining_bound:
        reasons.append(f"remaining gain at most {rem[2]:.3g} points < {remaining_bound:.3g} (ceiling reached "
                       f"within its interval)")
    stop = bool(reasons) and n_after >= MIN_POINTS
    if reasons and not stop:
        reasons.append(f"but only {n_after} evaluations after the branch point (< {MIN_POINTS})")
    step = probe.rl_steps[-1] if probe.rl_steps else 0
    return StopCheck(step, probe.flops, stop, "; ".join(reasons) or "still paying", gain, rem, fc.as_dict())


class ForecastStop:
    """run_rl's on_eval hook for rl.stop = "forecast". `history`: evaluations the branch had before this run
    resumed it (a continued probe's), as RLResult.evals dicts; start_score: the branch point's score (a
    fraction), the curve's first point when there is no history; `log(StopCheck)` sees every check."""

    def __init__(self, branch_step: int, sft_flops: float, gain_per_eflop_bound: float, remaining_bound: float,
                 prior: Optional[SigmoidPrior] = None, n_problems: int = 0, history=(),
                 start_score: Optional[float] = None, log: Optional[Callable[[StopCheck], None]] = None):
        history = list(history)
        if not history and start_score is not None:
            history = [{"step": 0, "rl_flops": 0.0, "overall": float(start_score)}]
        self.probe = Probe.from_evals(branch_step, sft_flops, history)
        self.bounds = (float(gain_per_eflop_bound), float(remaining_bound))
        self.prior, self.n_problems, self.log = prior, n_problems, log
        self.checks: List[StopCheck] = []

    def __call__(self, step: int, metrics: dict) -> bool:
        if step in self.probe.rl_steps:  # already seen (a resumed run re-evaluates nothing, but be safe)
            return False
        self.probe.rl_steps.append(int(step))
        self.probe.rl_flops.append(float(metrics["rl_flops"]))
        self.probe.scores.append(float(metrics["accuracy"]))
        if sum(1 for x in self.probe.rl_flops if x > 0) == 0:
            return False
        check = check_stop(self.probe, *self.bounds, self.prior, self.n_problems)
        self.checks.append(check)
        if self.log is not None:
            self.log(check)
        return check.stop
