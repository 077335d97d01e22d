"""Is the asymptote U identified by the data? Profile and bootstrap intervals, and a constrained fit.

When a branch is still rising at the end of its fit window, an unconstrained sigmoid runs U to its
bound with C_mid far beyond the data at almost the same error as a fit with a modest U; the printed
ceiling is then an artefact. These helpers detect that and say what the data do support.
"""
import dataclasses
from typing import List, Optional, Tuple

import numpy as np
from scipy import optimize, stats

from jaxpt.analysis.robust import r2_score
from jaxpt.analysis.sigmoid import U_BOUNDS, SigmoidParams, fit_sigmoid, n_params

LEVEL = 0.95
BOUND_TOL = 1e-3
PROFILE_XTOL = 2e-3  # interval ends are printed to 2 decimals


def _sse(params: SigmoidParams, x, y) -> float:
    return float(((y - params(x)) ** 2).sum())


@dataclasses.dataclass
class Interval:
    lo: float
    hi: float
    lo_open: bool  # the data do not bound this side within the search range
    hi_open: bool
    method: str


def profile_interval(x, y, best: SigmoidParams, free_c0: bool, u_max: float, level: float = LEVEL,
                     u_min: float = U_BOUNDS[0], c_mid_max: Optional[float] = None) -> Interval:
    """Profile-likelihood interval for U: all U whose best fit (other parameters free) keeps
    SSE(U) <= SSE_min (1 + F(1, n-p; level) / (n-p)), the usual nonlinear least-squares criterion.

    Searched within [u_min, u_max]; u_max is the physical limit (A_post = 100). A side whose limit
    still satisfies the criterion is open: the data cannot rule out that extreme. c_mid_max profiles
    the constrained fit (C_mid capped), so the interval belongs to the curve it is printed with.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n, p = len(x), n_params(free_c0)
    sse_min = _sse(best, x, y)
    if n - p <= 0:
        return Interval(u_min, u_max, True, True, "profile")
    thr = sse_min * (1.0 + stats.f.ppf(level, 1, n - p) / (n - p)) + 1e-12
    solved = {}  # U -> (SSE, fit)

    def excess(u):
        # Continuation: start from the solved profile point nearest in U (the best fit at first), plus
        # appendix F's start; the optimum moves smoothly with U, so two starts find it.
        if u not in solved:
            near = min(solved.items(), key=lambda kv: abs(kv[0] - u))[1][1] if solved else best
            fit = fit_sigmoid(x, y, free_c0=free_c0, fixed_U=u, init=near, c_mid_max=c_mid_max)
            solved[u] = (_sse(fit, x, y), fit)
        return solved[u][0] - thr

    u_hat = min(max(best.U, u_min), u_max)
    if u_hat == best.U:
        solved[u_hat] = (sse_min, best)
    elif excess(u_hat) > 0:
        # The best fit lies outside [u_min, u_max] and even the nearest limit fits worse than the
        # criterion allows: the data ask for a ceiling beyond the physical range. Report the limit,
        # open on that side.
        return Interval(float(u_hat), float(u_hat), best.U < u_min, best.U > u_max, "profile")

    def side(limit):
        # Walk out from u_hat in doubling steps until the criterion fails (or the limit is reached),
        # then solve for the crossing inside that short bracket.
        sign = 1.0 if limit > u_hat else -1.0
        inside, step = u_hat, max(0.25, 0.1 * abs(u_hat))
        while True:
            u = u_hat + sign * step
            if sign * (u - limit) >= 0:
                if limit == u_hat or excess(limit) <= 0:
                    return limit, True
                u = limit
            if excess(u) > 0:
                return optimize.brentq(excess, inside, u, xtol=PROFILE_XTOL, maxiter=60), False
            inside, step = u, 2.0 * step

    hi, hi_open = side(u_max)
    lo, lo_open = side(u_min)
    return Interval(float(lo), float(hi), lo_open, hi_open, "profile")


def bootstrap_interval(x, y, best: SigmoidParams, free_c0: bool, u_max: float, n_boot: int = 200,
                       seed: int = 0, level: float = LEVEL, c_mid_max: Optional[float] = None) -> Interval:
    """Percentile bootstrap over points for U (resample the fitted points with replacement, refit).

    The upper side counts as open when more than (1 - level) / 2 of the resamples reach u_max.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    rng = np.random.default_rng(seed)
    us = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(x[idx])) < n_params(free_c0):
            continue
        try:
            us.append(fit_sigmoid(x[idx], y[idx], free_c0=free_c0, init=best, c_mid_max=c_mid_max,
                                  u_max=None if c_mid_max is None else u_max).U)
        except (ValueError, RuntimeError):
            continue
    if not us:
        return Interval(U_BOUNDS[0], u_max, True, True, "bootstrap")
    us = np.array(us)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(us, [tail, 1.0 - tail])
    hi_open = bool(np.mean(us >= u_max - BOUND_TOL) > tail)
    # A percentile interval need not contain the fit it resamples; widen it to, so the printed point
    # estimate always lies inside its own interval.
    lo, hi = min(lo, best.U), max(min(hi, u_max) if hi_open else hi, min(best.U, u_max))
    return Interval(float(lo), float(hi), False, hi_open, "bootstrap")


def identification(best: SigmoidParams, x_fit, p_sft: float, interval: Interval) -> Tuple[bool, List[str]]:
    """(identified, reasons): U is identified unless one of these holds
    - U_at_bound: U sits on its box bound (the optimiser ran it as far as it could);
    - above_100: P_sft + U > 100, an impossible score;
    - C_mid_beyond_data: the half-gain point lies beyond the last fitted x (less than half the gain seen);
    - interval_open: the data cannot bound U from above below the physical limit A_post = 100.
    """
    reasons = []
    if best.U >= U_BOUNDS[1] - BOUND_TOL or best.U <= U_BOUNDS[0] + BOUND_TOL:
        reasons.append("U_at_bound")
    if p_sft + best.U > 100.0:
        reasons.append("above_100")
    if best.C_mid > float(np.max(x_fit)):
        reasons.append("C_mid_beyond_data")
    if interval.hi_open:
        reasons.append("interval_open")
    return not reasons, reasons


def constrained_fit(x, y, free_c0: bool, c_mid_max: float, u_max: Optional[float] = None,
                    init: Optional[SigmoidParams] = None) -> Tuple[SigmoidParams, float]:
    """The headline of unidentified branches: C_mid capped at the observed x range (half the gain is
    seen in the data) and U at u_max (the ceiling stays a possible score). Returns (fit, R^2)."""
    if init is not None and not (init.C_mid <= c_mid_max and (u_max is None or init.U <= u_max)):
        init = None  # an infeasible start would only be clipped onto the box edge
    fit = fit_sigmoid(x, y, free_c0=free_c0, c_mid_max=c_mid_max, u_max=u_max, init=init, multi_start=True)
    return fit, r2_score(y, fit(x))
