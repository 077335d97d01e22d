"""A short RL probe of one SFT checkpoint, and what the ceiling forecast says about it.

The forecast switch (`forecast_switch.py`), the budget planner (`budget.py`) and the RL stop rule
(`rl_stop.py`) all read the same thing: the evaluations of an RL branch so far, forecast with
`jaxpt.analysis.forecast`. Units at this boundary: the pipeline records scores as fractions in [0, 1] and
compute in FLOPs; the forecast works in score points (0-100) and EFLOPs (1e18 FLOPs). Conversions happen
here and nowhere else.
"""
import dataclasses
import math
from typing import List, Optional, Sequence

import numpy as np

from jaxpt.analysis.forecast import Forecast, forecast
from jaxpt.analysis.forecast_posterior import mixture_sample
from jaxpt.analysis.forecast_prior import SigmoidPrior

EFLOP = 1e18
DRAWS = 4000  # Monte Carlo draws per comparison (P(a > b) to about +-0.01)
TARGETS = ("horizon", "ceiling")


@dataclasses.dataclass
class Probe:
    """The evaluations of an RL branch from SFT step `step` (RL step 0 = the checkpoint itself)."""
    step: int
    sft_flops: float  # cumulative SFT FLOPs at the checkpoint
    rl_steps: List[int]
    rl_flops: List[float]  # cumulative RL FLOPs from the branch point at each evaluation
    scores: List[float]  # fractions in [0, 1]

    @property
    def p_sft(self) -> float:
        """The checkpoint's own score (the evaluation at RL compute 0), a fraction."""
        at0 = [s for x, s in zip(self.rl_flops, self.scores) if x <= 0]
        return at0[0] if at0 else self.scores[0]

    @property
    def flops(self) -> float:
        """RL FLOPs the probe spent."""
        return float(max(self.rl_flops)) if self.rl_flops else 0.0

    @property
    def flops_per_step(self) -> float:
        last = max(self.rl_steps) if self.rl_steps else 0
        return self.flops / last if last > 0 else 0.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Probe":
        return cls(int(d["step"]), float(d["sft_flops"]), [int(s) for s in d["rl_steps"]],
                   [float(x) for x in d["rl_flops"]], [float(s) for s in d["scores"]])

    @classmethod
    def from_evals(cls, step: int, sft_flops: float, evals: Sequence[dict]) -> "Probe":
        """From RLResult.evals (dicts with step, rl_flops, overall)."""
        return cls(int(step), float(sft_flops), [int(e["step"]) for e in evals],
                   [float(e["rl_flops"]) for e in evals], [float(e["overall"]) for e in evals])

    def prefix(self, flops_budget: float) -> "Probe":
        """The evaluations up to the first one whose RL FLOPs reach flops_budget: what a probe of that
        budget sees (run_rl's hook stops the run at that evaluation)."""
        n = next((i + 1 for i, x in enumerate(self.rl_flops) if x >= flops_budget), len(self.rl_flops))
        return Probe(self.step, self.sft_flops, self.rl_steps[:n], self.rl_flops[:n], self.scores[:n])


def binomial_noise_points(p: float, n_problems: int) -> float:
    """Sd of one evaluation's score on n problems near accuracy p, in points: the toy task's (and any small
    eval set's) noise floor, used as the noise prior when no finished branches give one."""
    p = min(max(p, 0.05), 0.95)
    return 100.0 * math.sqrt(p * (1 - p) / max(n_problems, 1))


def forecast_probe(probe: Probe, prior: Optional[SigmoidPrior] = None, n_problems: int = 0) -> Forecast:
    """The forecast of a branch from its evaluations. Without a prior: a flat shape prior whose noise level is
    the binomial sd of the evaluation set (one pseudo-point), since nothing else is known about the noise."""
    if prior is None:
        prior = SigmoidPrior.weak(binomial_noise_points(probe.p_sft, n_problems) if n_problems else 0.5)
    x = np.asarray(probe.rl_flops, float) / EFLOP
    return forecast(x, 100.0 * np.asarray(probe.scores, float), 100.0 * probe.p_sft, prior)


@dataclasses.dataclass
class Target:
    """What a candidate is judged by: the predicted score (points) at RL compute `x_flops` from its branch
    point ("horizon"), or its ceiling A_post ("ceiling", x_flops None)."""
    kind: str
    x_flops: Optional[float]
    median: float
    lo: float
    hi: float

    def as_dict(self) -> dict:
        return {k: (None if v is None else (round(v, 4) if isinstance(v, float) else v))
                for k, v in dataclasses.asdict(self).items()}


def target_of(fc: Forecast, kind: str, x_flops: Optional[float] = None) -> Target:
    if kind == "ceiling" or x_flops is None:
        return Target("ceiling", None, fc.A_post, fc.A_post_interval[0], fc.A_post_interval[1])
    band = fc.predict([x_flops / EFLOP])
    return Target("horizon", float(x_flops), float(band.median[0]), float(band.lo[0]), float(band.hi[0]))


def target_draws(fc: Forecast, target: Target, n: int, rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of the target (points): A_post, or the curve's score at the target's compute."""
    if target.kind == "ceiling":
        return fc.sample_a_post(n, rng)
    g = fc.posterior.shape([target.x_flops / EFLOP])[:, 0]  # the curve at x, divided by U, per grid cell
    return mixture_sample(fc.posterior, g, n, rng, fc.P_sft)


def prob_greater(fa: Forecast, ta: Target, fb: Forecast, tb: Target, seed: int = 0) -> float:
    """P(target of a > target of b), the two branches' posteriors taken as independent."""
    rng = np.random.default_rng(seed)
    return float(np.mean(target_draws(fa, ta, DRAWS, rng) > target_draws(fb, tb, DRAWS, rng)))
