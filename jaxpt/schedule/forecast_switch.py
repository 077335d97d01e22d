"""switch_mode "forecast": branch RL from the SFT checkpoint whose forecast is best, deciding during SFT.

From the first Stable point on, every `probe_every`-th validation is a candidate: the pipeline stops SFT there,
runs a short RL probe (probe_flops of RL compute) from the checkpoint and hands its evaluations here. Each
candidate is judged by its forecast target (see `probes.Target`):
    horizon  the predicted score at the end of the RL this run will do from it: rl.total_steps of RL, or,
             with a budget, its probe plus all compute left (budget.py): the score the run will report;
    ceiling  A_post, the score RL would reach with unlimited compute (the paper's quantity).
SFT goes on while the newest candidate beats the best earlier one by more than its uncertainty,
P(new > best) >= confidence; after `patience` candidates in a row that do not, SFT stops and RL continues
from the best candidate (highest median target). With a budget, SFT also stops when the next candidate
and its probe would leave no room for RL.

Pure logic on the streams it is given: no training, no I/O. The pipeline driver is jaxpt/pipeline/probes.py.
"""
import dataclasses
from typing import Dict, List, Optional

from jaxpt.analysis.forecast import Forecast
from jaxpt.analysis.forecast_prior import SigmoidPrior
from jaxpt.schedule.budget import Plan, plan_budget, rl_compute
from jaxpt.schedule.probes import TARGETS, Probe, Target, forecast_probe, prob_greater, target_of


@dataclasses.dataclass
class ProbeVerdict:
    step: int  # the candidate just probed
    continue_sft: bool
    best_step: int  # the best candidate so far (highest median target)
    previous_best: Optional[int]  # the best before this candidate
    p_better: Optional[float]  # P(this candidate's target > previous best's)
    misses: int  # candidates in a row that did not beat the best by more than their uncertainty
    reason: str
    targets: Dict[int, Target]  # every candidate's target at this decision (budget horizons shrink)
    plan: Optional[Plan] = None

    def as_dict(self) -> dict:
        return {"step": self.step, "continue_sft": self.continue_sft, "best_step": self.best_step,
                "previous_best": self.previous_best, "p_better": self.p_better, "misses": self.misses,
                "reason": self.reason, "targets": {str(k): t.as_dict() for k, t in self.targets.items()},
                "plan": self.plan.as_dict() if self.plan is not None else None}


class ForecastSwitch:
    def __init__(self, probe_flops: float, probe_every: int = 1, confidence: float = 0.8, patience: int = 1,
                 target: str = "horizon", rl_total_steps: int = 0, budget_flops: float = 0.0,
                 prior: Optional[SigmoidPrior] = None, n_problems: int = 0):
        if probe_flops <= 0:
            raise ValueError(f"probe_flops must be > 0, got {probe_flops}")
        if probe_every < 1 or patience < 1:
            raise ValueError(f"probe_every and patience must be >= 1, got {probe_every}, {patience}")
        if not 0.5 <= confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; known: {TARGETS}")
        if budget_flops and target != "horizon":
            raise ValueError("a budget is judged at the budget: target must be 'horizon'")
        self.probe_flops, self.probe_every, self.confidence = float(probe_flops), int(probe_every), confidence
        self.patience, self.target, self.rl_total_steps = int(patience), target, int(rl_total_steps)
        self.budget = float(budget_flops or 0.0)
        self.prior, self.n_problems = prior, int(n_problems)
        self.probes: List[Probe] = []
        self.forecasts: Dict[int, Forecast] = {}
        self.verdicts: List[ProbeVerdict] = []
        self.misses = 0
        self._evals: List[tuple] = []  # (step, sft_flops) of every SFT validation seen

    # ------------------------------------------------------------------ which validations are candidates
    def is_candidate(self, step: int, sft_flops: float, stable_seen: bool) -> bool:
        """Whether to probe the checkpoint of this validation (called once per validation, in order)."""
        self._evals.append((int(step), float(sft_flops)))
        if step <= 0 or any(p.step == step for p in self.probes):
            return False
        index = len(self._evals) - 1  # validations are evenly spaced: the index counts them
        due = stable_seen and index % self.probe_every == 0
        if self.budget and not due:
            ahead = self.probe_every - index % self.probe_every if stable_seen else 1
            if not self._affordable(self._next_flops(ahead)):
                return True  # the next candidate is out of reach: this checkpoint is the last one (see add)
        return due

    def _next_flops(self, evals_ahead: int) -> float:
        """SFT FLOPs at the validation `evals_ahead` from the last one (SFT compute grows linearly)."""
        (s1, f1) = self._evals[-1]
        s0, f0 = self._evals[-2] if len(self._evals) > 1 else (0, 0.0)
        per_eval = (f1 - f0) if s1 > s0 else 0.0
        return f1 + evals_ahead * per_eval

    def _affordable(self, next_sft_flops: float) -> bool:
        """Whether the budget allows reaching a candidate at next_sft_flops, probing it, and RL beyond the
        probe at least as long again."""
        return next_sft_flops + self.probe_spent + 2 * self.probe_flops <= self.budget

    @property
    def probe_spent(self) -> float:
        return float(sum(p.flops for p in self.probes))

    def spent(self) -> float:
        """SFT FLOPs so far (the last candidate's) plus every probe's RL FLOPs."""
        sft = max((p.sft_flops for p in self.probes), default=0.0)
        return sft + self.probe_spent

    # ------------------------------------------------------------------------------------- targets
    def cap(self, probe: Probe) -> Optional[float]:
        """RL compute of rl.total_steps steps of this branch (its probe's FLOPs per step), None if unknown."""
        if self.rl_total_steps and probe.flops_per_step > 0:
            return probe.flops_per_step * self.rl_total_steps
        return None

    def horizon(self, probe: Probe) -> Optional[float]:
        """The RL compute (from the branch point) at which the candidate is judged; None: at the ceiling."""
        if self.target == "ceiling":
            return None
        if self.budget:
            return rl_compute(self.budget, self.spent(), probe.flops, self.cap(probe))
        return self.cap(probe)

    def targets(self) -> Dict[int, Target]:
        return {p.step: target_of(self.forecasts[p.step], self.target, self.horizon(p)) for p in self.probes}

    def best_step(self, targets: Optional[Dict[int, Target]] = None, before: Optional[int] = None
                  ) -> Optional[int]:
        """The candidate with the highest median target (of those before step `before`); ties: the earlier."""
        targets = targets if targets is not None else self.targets()
        pool = [(t.median, -s) for s, t in targets.items() if before is None or s < before]
        return -max(pool)[1] if pool else None

    def plan(self) -> Optional[Plan]:
        if not self.budget or not self.probes:
            return None
        caps = {p.step: self.cap(p) for p in self.probes}
        return plan_budget(self.probes, self.forecasts, self.budget, self.spent(), caps)

    # ------------------------------------------------------------------------------------- decisions
    def add(self, probe: Probe, final: bool = False) -> ProbeVerdict:
        """A candidate's probe has run: forecast it, compare with the best earlier candidate, decide whether
        SFT goes on. final: SFT has no more steps (the verdict then stops it whatever the comparison)."""
        self.probes.append(probe)
        self.forecasts[probe.step] = forecast_probe(probe, self.prior, self.n_problems)
        targets = self.targets()
        prev = self.best_step(targets, before=probe.step)
        p_better = None
        if prev is None:
            self.misses = 0
            reason = "first candidate"
        else:
            p_better = prob_greater(self.forecasts[probe.step], targets[probe.step], self.forecasts[prev],
                                    targets[prev], seed=probe.step)
            if p_better >= self.confidence:
                self.misses = 0
                reason = f"beats step {prev}: P = {p_better:.2f} >= {self.confidence:g}"
            else:
                self.misses += 1
                reason = (f"does not beat step {prev} by more than its uncertainty: P = {p_better:.2f} < "
                          f"{self.confidence:g} ({self.misses} of {self.patience} in a row)")
        go_on = self.misses < self.patience
        if go_on and final:
            go_on, reason = False, reason + "; SFT has no more steps"
        if go_on and self.budget and not self._affordable(self._next_flops(self.probe_every)):
            go_on, reason = False, reason + "; the budget leaves no room for another candidate"
        best = self.best_step(targets)
        verdict = ProbeVerdict(probe.step, go_on, best, prev, p_better, self.misses, reason, targets, self.plan())
        self.verdicts.append(verdict)
        return verdict
