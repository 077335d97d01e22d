"""The gain-space sigmoid y = c0 + (U - c0) / (1 + (C_mid / x)^B) and its bounded least-squares fit.

x is RL compute (EFLOPs) from the branch point, y the score gain over the SFT checkpoint. U is the
asymptote (RL plasticity PL_rl), C_mid the compute for half the gain, B the steepness, c0 the value
at x = 0 (fixed at 0 unless `free_c0`; the paper's epsilon).
"""
import dataclasses
from typing import Optional

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit

# Bounds of appendix F. C_mid has no upper bound unless a constrained fit asks for one.
U_BOUNDS = (-100.0, 100.0)
C0_BOUNDS = (-100.0, 100.0)
B_BOUNDS = (1e-4, 10.0)
C_MID_MIN = 1e-8
X_MIN = 1e-8


@dataclasses.dataclass(frozen=True)
class SigmoidParams:
    U: float
    C_mid: float
    B: float
    c0: float = 0.0

    def __call__(self, x) -> np.ndarray:
        return sigmoid(x, self.U, self.C_mid, self.B, self.c0)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def sigmoid(x, U, C_mid, B, c0=0.0) -> np.ndarray:
    """Evaluates the curve; written as a logistic in log x so x -> 0 and huge C_mid do not overflow."""
    x = np.maximum(np.asarray(x, dtype=float), X_MIN)
    z = B * (np.log(x) - np.log(max(C_mid, C_MID_MIN)))
    return c0 + (U - c0) * expit(z)


def _clip_inside(v, lo, hi):
    # least_squares needs a start inside the box; nudge starts that sit on or beyond a bound.
    span = (hi - lo) if np.isfinite(hi - lo) else max(abs(lo), 1.0)
    eps = 1e-6 * span
    return float(np.clip(v, lo + eps, hi - eps if np.isfinite(hi) else np.inf))


def fit_sigmoid(x, y, *, free_c0: bool = False, fixed_U: Optional[float] = None,
                c_mid_max: Optional[float] = None, init: Optional[SigmoidParams] = None,
                multi_start: bool = True) -> SigmoidParams:
    """Bounded nonlinear least squares for the sigmoid on points (x, y).

    fixed_U pins the asymptote (for profiles); c_mid_max caps C_mid (the constrained alternative).
    The default start is appendix F's (B = 1, C_mid = median positive x, U = max y, c0 = min y);
    with multi_start, starts at the smallest and largest positive x are tried too and the lowest
    sum of squares wins, so a fit does not hinge on one start landing in the right basin.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D arrays of the same length")
    n_free = 2 + (fixed_U is None) + bool(free_c0)
    if len(x) < n_free:
        raise ValueError(f"need at least {n_free} points to fit, got {len(x)}")
    xpos = x[x > 0]
    c_hi = np.inf if c_mid_max is None else float(c_mid_max)
    c_candidates = [np.median(xpos) if len(xpos) else 1.0]
    if multi_start and len(xpos):
        c_candidates += [xpos.min(), xpos.max()]
    starts = []
    if init is not None:
        starts.append((init.U, init.C_mid, init.B, init.c0))
    for c in c_candidates:
        starts.append((y.max(), c, 1.0, y.min()))

    # Parameter vector layout: [U?] C_mid B [c0?].
    lo = ([U_BOUNDS[0]] if fixed_U is None else []) + [C_MID_MIN, B_BOUNDS[0]] + ([C0_BOUNDS[0]] if free_c0 else [])
    hi = ([U_BOUNDS[1]] if fixed_U is None else []) + [c_hi, B_BOUNDS[1]] + ([C0_BOUNDS[1]] if free_c0 else [])

    def unpack(v):
        i = 0
        if fixed_U is None:
            U = v[0]
            i = 1
        else:
            U = fixed_U
        C, B = v[i], v[i + 1]
        c0 = v[i + 2] if free_c0 else 0.0
        return U, C, B, c0

    def resid(v):
        return sigmoid(x, *unpack(v)) - y

    log_x = np.log(np.maximum(x, X_MIN))

    def jac(v):
        # Analytic derivatives (about 3x faster than finite differences, and exact near the bounds).
        U, C, B, c0 = unpack(v)
        d = log_x - np.log(max(C, C_MID_MIN))
        s = expit(B * d)
        ds = (U - c0) * s * (1.0 - s)
        cols = ([s] if fixed_U is None else []) + [ds * (-B / max(C, C_MID_MIN)), ds * d]
        if free_c0:
            cols.append(1.0 - s)
        return np.stack(cols, axis=1)

    best, best_cost = None, np.inf
    for U0, C0, B0, c00 in starts:
        v0 = ([U0] if fixed_U is None else []) + [C0, B0] + ([c00] if free_c0 else [])
        v0 = [_clip_inside(v, a, b) for v, a, b in zip(v0, lo, hi)]
        try:
            sol = least_squares(resid, v0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac")
        except (ValueError, FloatingPointError):
            continue
        if sol.cost < best_cost - 1e-12:
            best, best_cost = sol.x, sol.cost
    if best is None:
        raise RuntimeError("sigmoid fit failed from every start")
    return SigmoidParams(*(float(v) for v in unpack(best)))


def n_params(free_c0: bool) -> int:
    return 4 if free_c0 else 3
