"""The budget plan: with a total compute budget, which probed SFT checkpoint to continue RL from, for how long,
and the score the forecast predicts at the budget.

Every FLOP counts against the budget: SFT up to where it stopped, every probe, and the chosen branch's RL.
Continuing a probe's run keeps its compute, so branch c ends with RL compute

    x_c = probe_c + (budget - spent)        (spent = SFT so far + all probes so far)

capped by what rl.total_steps allows. The plan maximises the forecast's median score at x_c, the score at
the budget: a branch with a higher ceiling but a late bend can lose to one that gets there sooner.
"""
import dataclasses
from typing import Dict, List, Optional, Sequence

from jaxpt.analysis.forecast import Forecast
from jaxpt.schedule.probes import Probe, Target, target_of


@dataclasses.dataclass
class PlanOption:
    step: int  # SFT checkpoint
    sft_flops: float
    rl_flops: float  # RL compute of the branch from its branch point at the end of the plan (probe included)
    predicted: Target  # forecast score (points) at rl_flops


@dataclasses.dataclass
class Plan:
    budget: float
    spent: float  # SFT + probes when the plan was made
    choice: PlanOption
    options: List[PlanOption]
    choice_probe_flops: float  # what the chosen branch's probe already spent (part of `spent`)

    @property
    def total_flops(self) -> float:
        """What the plan spends in all: the compute so far plus the chosen branch's RL beyond its probe."""
        return self.spent + self.choice.rl_flops - self.choice_probe_flops

    def as_dict(self) -> dict:
        return {"budget": self.budget, "spent": self.spent, "total_flops": self.total_flops,
                "branch_step": self.choice.step, "rl_flops": self.choice.rl_flops,
                "predicted": self.choice.predicted.as_dict(),
                "options": [{"step": o.step, "sft_flops": o.sft_flops, "rl_flops": o.rl_flops,
                             "predicted": o.predicted.as_dict()} for o in self.options]}


def rl_compute(budget: float, spent: float, probe_flops: float, cap: Optional[float] = None) -> float:
    """RL FLOPs a branch ends with if SFT stops now: its probe plus all that is left of the budget, at most
    `cap` (the compute of rl.total_steps) and never less than the probe already ran."""
    x = probe_flops + max(budget - spent, 0.0)
    if cap:
        x = min(x, cap)
    return max(x, probe_flops)


def plan_budget(probes: Sequence[Probe], forecasts: Dict[int, Forecast], budget: float, spent: float,
                caps: Optional[Dict[int, float]] = None) -> Plan:
    """The option with the highest forecast median at the budget (ties: the earlier checkpoint)."""
    if not probes:
        raise ValueError("a budget plan needs at least one probed checkpoint")
    caps = caps or {}
    options = []
    for p in probes:
        x = rl_compute(budget, spent, p.flops, caps.get(p.step))
        options.append(PlanOption(p.step, p.sft_flops, x, target_of(forecasts[p.step], "horizon", x)))
    best = max(options, key=lambda o: (o.predicted.median, -o.step))
    probe_of = {p.step: p.flops for p in probes}
    return Plan(budget, spent, best, options, probe_of[best.step])
