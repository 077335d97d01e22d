"""Online forecast of an RL branch's ceiling from the evaluations it has so far (issue 18, parts 1-2).

The paper fits y = U / (1 + (C_mid / x)^B) (x = RL EFLOPs from the branch point, y = score - P_sft)
once a run has finished. Online, a prefix of the curve often has not bent yet and a plain fit runs U
to its bound. Here the fit is Bayesian on a grid (forecast_posterior): U and the noise integrate out
in closed form, (C_mid, B) get a prior learned from other, finished branches (forecast_prior), and
every answer is a posterior median with an equal-tailed interval, so
- A_post = P_sft + U never exceeds 100 (U's flat prior stops there) and the point lies in its interval;
- `identified` is judged from the data alone (flat shape prior): has the bend been seen?
Outliers are screened with the modified Z-score of `jaxpt.analysis.robust` around the posterior curve,
and correlated residuals (slow waves around the curve, common in RL evaluations) shrink the
effective number of points so that intervals do not claim more than the data hold.

Call `forecast(rl_eflops, scores, p_sft, prior)` after every evaluation: tens of milliseconds for
10-80 points. The returned `Forecast` answers the scheduler's questions: `predict(x)` (score at a
future compute), `gain_per_eflop(x)`, `remaining_gain(x)`, `prob_a_post_above(v)`, and
`prob_better(a, b)` compares two branches.

Scheduler use (issue 18 part 3): rl.stop = "forecast" can stop once `gain_per_eflop(x_now).hi` is
below its bound, or `remaining_gain(x_now).hi` is below a tolerance (the ceiling is reached within
its interval). Using the upper ends keeps both false while the data cannot bound the ceiling.
A switch probe compares candidates with `prob_better`; a budget plan maximises
`predict(budget - sft_compute).median` over candidates (the score at the budget, not at infinity).
"""
import dataclasses
import math
from typing import List, NamedTuple, Optional

import numpy as np

from jaxpt.analysis.forecast_posterior import (GridPosterior, grid_posterior, mixture_cdf, mixture_quantiles,
                                               mixture_sample, parameter_quantiles, t_scale_mixture)
from jaxpt.analysis.forecast_prior import B_RANGE, SigmoidPrior
from jaxpt.analysis.robust import zscore_filter

LEVEL = 0.95
TAU = 4.0  # modified Z-score threshold: the least aggressive of appendix F (2.5, 3, 4); see forecast_gain
MIN_KAPPA = 0.2  # at most a 5x shrink of the effective number of points
MIN_POINTS_FOR_RHO = 8  # below this the residual autocorrelation is too noisy to use
BEND_SEEN = 0.9  # identified needs P(C_mid <= last x | data alone) at least this
CEILING_TOL = 0.05  # score points: an interval end this close to 100 counts as touching it
MAX_SCORE = 100.0
# Grid resolutions: cells in log C_mid and log B, refinement rounds, quadrature nodes of the U prior.
FINE = {"n_c": 64, "n_b": 32, "refine": 3, "u_nodes": 3}
COARSE = {"n_c": 40, "n_b": 20, "refine": 1, "u_nodes": 3}


class Band(NamedTuple):
    """Posterior median and equal-tailed interval of a quantity, one entry per requested x."""
    median: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


@dataclasses.dataclass
class Forecast:
    """What the evaluations so far say about the branch. Scores in points, compute in EFLOPs."""
    P_sft: float
    level: float
    PL_rl: float  # posterior median of U
    PL_rl_interval: List[float]
    A_post: float  # P_sft + PL_rl
    A_post_interval: List[float]
    identified: bool
    identification_reasons: List[str]
    p_bend_seen: float  # P(C_mid <= x_last) under a flat shape prior: the data's own evidence
    A_post_interval_data_only: List[float]  # the same interval without the shape prior
    C_mid: float
    C_mid_interval: List[float]
    B: float
    x_last: float
    observed_max: float  # best score seen so far
    n_points: int  # measured evaluations given (x > 0)
    outlier_idx: List[int]  # indices into the caller's arrays of the evaluations screened out
    noise_sd: float
    kappa: float  # effective points per evaluation (1 = independent residuals)
    prior: dict
    posterior: GridPosterior = dataclasses.field(repr=False)

    def _band(self, a, offset=0.0) -> tuple:
        tail = (1.0 - self.level) / 2.0
        lo, med, hi = mixture_quantiles(self.posterior, a, [tail, 0.5, 1.0 - tail], offset)
        return med, lo, hi

    def _per_x(self, x, multiplier, offset=0.0) -> Band:
        # Every quantity here is U times a per-cell multiplier m(g(x), x) >= 0, plus an offset.
        xs = np.atleast_1d(np.asarray(x, float))
        g = self.posterior.shape(xs)  # cells x len(xs)
        rows = [self._band(multiplier(g[:, j], xs[j]), offset) for j in range(len(xs))]
        med, lo, hi = (np.array(v) for v in zip(*rows))
        return Band(med, lo, hi)

    def predict(self, x) -> Band:
        """Score (P_sft + gain) of the curve at RL compute x (EFLOPs from the branch point).

        The interval is for the curve itself, not for one noisy evaluation of it.
        """
        return self._per_x(x, lambda g, _: g, self.P_sft)

    def gain_per_eflop(self, x) -> Band:
        """Marginal gain dy/dx = U B g (1 - g) / x at x, in score points per EFLOP."""
        b = np.exp(self.posterior.log_b)
        return self._per_x(x, lambda g, xv: b * g * (1.0 - g) / max(xv, 1e-12))

    def remaining_gain(self, x) -> Band:
        """Gain still to come after x: U (1 - g(x)) = A_post - predicted score at x."""
        return self._per_x(x, lambda g, _: 1.0 - g)

    def prob_a_post_above(self, value: float) -> float:
        """Posterior probability that the ceiling A_post exceeds `value`."""
        return float(1.0 - mixture_cdf(self.posterior, 1.0, [value], self.P_sft)[0])

    def sample_a_post(self, n: int, seed=0) -> np.ndarray:
        """n posterior draws of A_post (seed: an int or a numpy Generator)."""
        return mixture_sample(self.posterior, 1.0, n, seed, self.P_sft)

    def as_dict(self) -> dict:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "posterior"}
        return _rounded(d)


def prob_better(a: Forecast, b: Forecast, n: int = 4000, seed=0) -> float:
    """P(A_post of a > A_post of b), the two posteriors taken as independent (Monte Carlo, n draws)."""
    rng = np.random.default_rng(seed)
    return float(np.mean(a.sample_a_post(n, rng) > b.sample_a_post(n, rng)))


def _rounded(v):
    if isinstance(v, dict):
        return {k: _rounded(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return [_rounded(u) for u in v]
    if isinstance(v, (float, np.floating)):
        return round(float(v), 4) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _ranges(x, prior: SigmoidPrior):
    lx = np.log(x[x > 0])
    lo, hi = lx.min() - 3.0, lx.max() + 8.0  # far enough that the U bound, not the grid, ends the ridge
    if prior.informative:
        lo = min(lo, prior.c_mu - 6 * prior.c_scale)
        hi = max(hi, prior.c_mu + 6 * prior.c_scale)
    return (lo, hi), (math.log(B_RANGE[0]), math.log(B_RANGE[1]))


def _lag1_kappa(resid) -> float:
    """(1 - rho) / (1 + rho) from the lag-1 autocorrelation rho: the AR(1) effective-sample factor."""
    r = np.asarray(resid, float)
    if len(r) < MIN_POINTS_FOR_RHO:
        return 1.0
    r = r - r.mean()
    den = float(r @ r)
    if den <= 0:
        return 1.0
    rho = float(r[1:] @ r[:-1]) / den
    return float(np.clip((1.0 - rho) / (1.0 + rho), MIN_KAPPA, 1.0))


def forecast(rl_eflops, scores, p_sft: float, prior: Optional[SigmoidPrior] = None, *,
             level: float = LEVEL, tau: float = TAU) -> Forecast:
    """Forecast from raw evaluations: scores (points, 0-100) at RL compute rl_eflops from the branch point.

    An evaluation at x = 0 is the branch point itself; P_sft defines it, so it is not used as data.
    """
    scores = np.asarray(scores, float)
    return forecast_gain(rl_eflops, scores - p_sft, p_sft, prior, level=level, tau=tau)


def forecast_gain(x, gain, p_sft: float, prior: Optional[SigmoidPrior] = None, *,
                  level: float = LEVEL, tau: float = TAU, grid: Optional[dict] = None) -> Forecast:
    """Forecast from gain-space points (x EFLOPs, gain = score - P_sft); see `forecast`."""
    prior = prior or SigmoidPrior.weak()
    x = np.asarray(x, float)
    y = np.asarray(gain, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and gain must be 1-D arrays of the same length")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    source = np.flatnonzero(ok)[np.argsort(x[ok], kind="stable")]  # caller's index of each point used
    x, y = x[source], y[source]
    if len(x) == 0:
        raise ValueError("no RL evaluation after the branch point yet")
    resolution = grid or FINE
    u_lo, u_hi = -p_sft, MAX_SCORE - p_sft  # 0 <= A_post <= 100
    c_range, b_range = _ranges(x, prior)

    def posterior(xs, ys, pr, kappa=1.0, noise_sd=None, grid=FINE):
        u_prior = None
        if pr.u_mu is not None:
            # Conjugate prior U ~ N(u_mu, sigma^2 / lam): lam = (sigma / u_scale)^2 makes its sd u_scale
            # at the branch's noise level; the t mixture over precisions gives it heavy tails.
            w, log_w = t_scale_mixture(pr.df, grid["u_nodes"])
            lam = (noise_sd or pr.noise_sd) ** 2 / pr.u_scale ** 2 * w
            u_prior = (pr.u_mu, lam, log_w)
        return grid_posterior(xs, ys, pr.noise(), u_lo, u_hi, pr.log_density, c_range, b_range, kappa,
                              u_prior, grid["n_c"], grid["n_b"], grid["refine"])

    # Outlier screening only needs a reasonable curve: a coarse grid does. The last screening fit is
    # on the kept points; its residuals give the autocorrelation and its noise level the U prior's.
    last = {}

    def screening_fit(xs, ys):
        last["post"] = posterior(xs, ys, prior, grid=COARSE)
        return last["post"].mean_curve

    keep = np.ones(len(x), bool)
    if len(x) >= 5:
        _, keep = zscore_filter(x, y, screening_fit, tau=tau, n_params=3)
    xk, yk = x[keep], y[keep]
    first = last["post"] if len(x) >= 5 else posterior(xk, yk, prior, grid=COARSE)
    kappa = _lag1_kappa(yk - first.mean_curve(xk))
    post = posterior(xk, yk, prior, kappa, first.noise_sd, resolution)
    data_only = posterior(xk, yk, prior.flat(), kappa, grid=COARSE)

    tail = (1.0 - level) / 2.0
    qs = [tail, 0.5, 1.0 - tail]
    u_lo_q, u_med, u_hi_q = mixture_quantiles(post, 1.0, qs)
    d_lo, _, d_hi = mixture_quantiles(data_only, 1.0, qs)
    c_lo, c_med, c_hi = np.exp(parameter_quantiles(post.log_c, post.weight, qs))
    b_med = float(np.exp(parameter_quantiles(post.log_b, post.weight, [0.5])[0]))
    x_last = float(x.max())
    p_bend = float(data_only.weight[data_only.log_c <= math.log(x_last)].sum())

    reasons = []
    if p_bend < BEND_SEEN:
        reasons.append("bend_not_seen")
    if p_sft + d_hi >= MAX_SCORE - CEILING_TOL:
        reasons.append("interval_open")  # the data alone cannot rule out a ceiling of 100
    return Forecast(
        P_sft=float(p_sft), level=level, PL_rl=float(u_med), PL_rl_interval=[float(u_lo_q), float(u_hi_q)],
        A_post=float(p_sft + u_med), A_post_interval=[float(p_sft + u_lo_q), float(p_sft + u_hi_q)],
        identified=not reasons, identification_reasons=reasons, p_bend_seen=p_bend,
        A_post_interval_data_only=[float(p_sft + d_lo), float(p_sft + d_hi)],
        C_mid=float(c_med), C_mid_interval=[float(c_lo), float(c_hi)], B=b_med, x_last=x_last,
        observed_max=float(p_sft + y.max()), n_points=int(len(x)),
        outlier_idx=[int(i) for i in source[~keep]], noise_sd=post.noise_sd, kappa=kappa,
        prior=prior.as_dict(), posterior=post)
