"""The gain-space sigmoid y = c0 + (U - c0) / (1 + (C_mid / x)^B) and its bounded least-squares fit.

x is RL compute (EFLOPs) from the branch point, y the score gain over the SFT checkpoint. U is the
asymptote (RL plasticity PL_rl), C_mid the compute for half the gain, B the steepness, c0 the value
at x = 0 (fixed at 0 unless `free_c0`; the paper's epsilon).

The solver follows docs/algorithms.md section 2, step 3: bounded nonlinear least squares from one start
(B = 1, C_mid = median of the positive x fitted, U = max y fitted, c0 = min y when free). Extra starts
are an opt-in (`multi_start`) for our own additions, such as the constrained fit and its profile.
"""
import dataclasses
from typing import List, Optional, Tuple

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit

# Bounds of appendix F. C_mid has no upper bound unless a constrained fit asks for one.
U_BOUNDS = (-100.0, 100.0)
C0_BOUNDS = (-100.0, 100.0)
B_BOUNDS = (1e-4, 10.0)
C_MID_MIN = 1e-8
X_MIN = 1e-8
START_B = 1.0


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
    """Evaluates the curve; written as a logistic in log x so x -> 0 and huge C_mid do not overflow.

    Equal to c0 + (U - c0) / (1 + (C_mid / x)^B) with x clamped at X_MIN, as appendix F has it.
    """
    x = np.maximum(np.asarray(x, dtype=float), X_MIN)
    z = B * (np.log(x) - np.log(max(C_mid, C_MID_MIN)))
    return c0 + (U - c0) * expit(z)


def appendix_f_start(x, y, free_c0: bool = False, c_mid_quantile: float = 50.0) -> SigmoidParams:
    """The solver start of appendix F: B = 1, C_mid = median of the positive x, U = max y, c0 = min y
    when free (else 0). The x and y are those being fitted. c_mid_quantile moves C_mid to another
    percentile of the positive x (LTS uses the quartiles as extra trial curves)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xpos = x[x > 0]
    c = float(np.percentile(xpos, c_mid_quantile)) if len(xpos) else 1.0
    return SigmoidParams(U=float(y.max()), C_mid=c, B=START_B, c0=float(y.min()) if free_c0 else 0.0)


def _clip_inside(v, lo, hi):
    # least_squares needs a start inside the box; nudge starts that sit on or beyond a bound.
    span = (hi - lo) if np.isfinite(hi - lo) else max(abs(lo), 1.0)
    eps = 1e-6 * span
    return float(np.clip(v, lo + eps, hi - eps if np.isfinite(hi) else np.inf))


def fit_sigmoid(x, y, *, free_c0: bool = False, fixed_U: Optional[float] = None,
                c_mid_max: Optional[float] = None, u_max: Optional[float] = None,
                init: Optional[SigmoidParams] = None, multi_start: bool = False) -> SigmoidParams:
    """Bounded nonlinear least squares for the sigmoid on points (x, y).

    Default: one solve from appendix F's start. fixed_U pins the asymptote (profiles); c_mid_max caps
    C_mid and u_max caps U (the constrained alternative, which must stay a possible score). init adds a
    start (tried first); multi_start adds starts with C_mid at the smallest and largest positive x.
    With several starts the lowest sum of squares wins (ties: the earlier start).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D arrays of the same length")
    n_free = 2 + (fixed_U is None) + bool(free_c0)
    if len(x) < n_free:
        raise ValueError(f"need at least {n_free} points to fit, got {len(x)}")
    base = appendix_f_start(x, y, free_c0)
    starts: List[SigmoidParams] = [] if init is None else [init]
    starts.append(base)
    xpos = x[x > 0]
    if multi_start and len(xpos):
        starts += [dataclasses.replace(base, C_mid=float(c)) for c in (xpos.min(), xpos.max())]

    u_hi = U_BOUNDS[1] if u_max is None else min(float(u_max), U_BOUNDS[1])
    c_hi = np.inf if c_mid_max is None else float(c_mid_max)
    # Parameter vector layout: [U?] C_mid B [c0?].
    lo = ([U_BOUNDS[0]] if fixed_U is None else []) + [C_MID_MIN, B_BOUNDS[0]] + ([C0_BOUNDS[0]] if free_c0 else [])
    hi = ([u_hi] if fixed_U is None else []) + [c_hi, B_BOUNDS[1]] + ([C0_BOUNDS[1]] if free_c0 else [])

    def unpack(v) -> Tuple[float, float, float, float]:
        i = 0
        if fixed_U is None:
            U, i = v[0], 1
        else:
            U = fixed_U
        return U, v[i], v[i + 1], (v[i + 2] if free_c0 else 0.0)

    def resid(v):
        return sigmoid(x, *unpack(v)) - y

    log_x = np.log(np.maximum(x, X_MIN))

    def jac(v):
        # Analytic derivatives: about 3x faster than finite differences, and exact near the bounds.
        U, C, B, c0 = unpack(v)
        d = log_x - np.log(max(C, C_MID_MIN))
        s = expit(B * d)
        ds = (U - c0) * s * (1.0 - s)
        cols = ([s] if fixed_U is None else []) + [ds * (-B / max(C, C_MID_MIN)), ds * d]
        if free_c0:
            cols.append(1.0 - s)
        return np.stack(cols, axis=1)

    best, best_cost = None, np.inf
    for st in starts:
        v0 = ([st.U] if fixed_U is None else []) + [st.C_mid, st.B] + ([st.c0] if free_c0 else [])
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
