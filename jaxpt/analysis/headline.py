"""Which fit a branch reports as its ceiling, so that no headline is an impossible score.

Three kinds of headline, named in the result's `headline` field:
- "sigmoid": the robust fit of section 2, when its asymptote is identified by the data;
- "constrained": otherwise, the fit with C_mid capped at the largest fitted x and U at 100 - P_sft
  (section 2 calls this the labelled alternative; a branch the data cannot pin down reports it);
- "peak": runs that do not follow a sigmoid report the best observed score (section 1).
The unconstrained optimum is always kept beside the headline, in fields of its own.

Invariants every headline keeps: A_post = P_sft + PL_rl <= 100, and the point estimate lies inside
its own 95% interval (None for "peak", an observed value).
"""
import dataclasses
from typing import List, Optional

import numpy as np

from jaxpt.analysis.identify import (Interval, bootstrap_interval, constrained_fit, identification,
                                     profile_interval)
from jaxpt.analysis.robust import rmse
from jaxpt.analysis.sigmoid import U_BOUNDS, SigmoidParams

# A run "does not follow a sigmoid" (unstable: it collapses, or never fits) when the headline curve
# explains little of the training curve, or when the typical later point sits far below it.
MIN_TRAIN_R2 = 0.5
COLLAPSE_RMSE_FACTOR = 3.0
COLLAPSE_MIN_DROP = 1.0  # score points; below this a shortfall is evaluation noise, not a collapse


@dataclasses.dataclass
class Headline:
    kind: str  # "sigmoid", "constrained" or "peak"
    label: str
    params: SigmoidParams  # the curve drawn with the headline (for "peak": the sigmoid still reported)
    PL_rl: float
    interval: Optional[Interval]  # of PL_rl; None for "peak"
    train_r2: float
    identified: bool
    reasons: List[str]  # why the unconstrained asymptote is not identified
    unstable: List[str]  # why the run does not follow a sigmoid


def u_limit(p_sft: float) -> float:
    """The largest possible gain: A_post = P_sft + U must stay a score (<= 100)."""
    return min(100.0 - p_sft, U_BOUNDS[1])


def interval_of(x, y, params, free_c0, u_max, method="profile", n_boot=200, seed=0, c_mid_max=None) -> Interval:
    if method == "bootstrap":
        return bootstrap_interval(x, y, params, free_c0, u_max, n_boot=n_boot, seed=seed, c_mid_max=c_mid_max)
    if method == "profile":
        return profile_interval(x, y, params, free_c0, u_max, c_mid_max=c_mid_max)
    raise ValueError(f"interval must be 'profile' or 'bootstrap', got {method!r}")


def unstable_reasons(params: SigmoidParams, train_r2: float, train_rmse: float, x_val, y_val) -> List[str]:
    why = []
    if not np.isfinite(train_r2) or train_r2 < MIN_TRAIN_R2:
        why.append("poor_train_fit")
    if params.U <= 0:
        why.append("no_gain")
    if len(x_val):
        drop = max(COLLAPSE_RMSE_FACTOR * train_rmse, COLLAPSE_MIN_DROP)
        if np.median(y_val - params(x_val)) < -drop:
            why.append("collapse")
    return why


def choose_headline(fit, x, y, p_sft: float, interval: str = "profile", n_boot: int = 200,
                    seed: int = 0) -> Headline:
    """The headline of one branch from its RobustFit (fitting.robust_fit) and its points."""
    p, free_c0 = fit.params, fit.settings.free_c0
    xk, yk = x[fit.kept_idx], y[fit.kept_idx]
    xv, yv = x[fit.val_idx], y[fit.val_idx]
    u_max = u_limit(p_sft)
    iv = interval_of(xk, yk, p, free_c0, u_max, interval, n_boot, seed)
    identified, reasons = identification(p, xk, p_sft, iv)
    if identified:
        kind, label, params = "sigmoid", "robust sigmoid fit (identified)", p
        r2, fit_rmse = fit.train_r2, fit.train_rmse
    else:
        # Judging stability on the unconstrained curve would call every still-rising branch a collapse:
        # its extrapolation runs above the later points. The constrained curve is the one reported.
        c_max = float(xk.max())
        params, r2 = constrained_fit(xk, yk, free_c0, c_max, u_max=u_max, init=p)
        iv = interval_of(xk, yk, params, free_c0, u_max, interval, n_boot, seed, c_mid_max=c_max)
        kind, label = "constrained", f"constrained fit: C_mid <= {c_max:.2f} EFLOPs (max fitted x), U <= {u_max:.2f}"
        fit_rmse = rmse(yk, params(xk))
    unstable = unstable_reasons(params, r2, fit_rmse, xv, yv)
    if unstable:
        return Headline("peak", "best observed score (run does not follow a sigmoid)", params,
                        float(np.max(y)), None, r2, identified, reasons, unstable)
    return Headline(kind, label, params, float(params.U), iv, r2, identified, reasons, unstable)


def check_headline(p_sft: float, pl_rl: float, interval) -> None:
    """Raises if a headline would print an impossible score or lie outside its interval (a bug guard)."""
    if p_sft + pl_rl > 100.0 + 1e-9:
        raise AssertionError(f"headline A_post {p_sft + pl_rl:.4f} exceeds 100")
    if interval is not None and not (interval[0] - 1e-9 <= pl_rl <= interval[1] + 1e-9):
        raise AssertionError(f"headline PL_rl {pl_rl:.4f} lies outside its interval {interval}")

