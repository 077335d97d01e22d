"""Robust regression helpers: iterated modified Z-score outlier removal and Least Trimmed Squares.

Both take a generic `fit_fn(x, y) -> model` where `model(x)` predicts y, so they serve the sigmoid
and, in tests, a straight line. Everything is deterministic (optional random LTS starts use a seed).
"""
from typing import Callable, Tuple

import numpy as np

FitFn = Callable[[np.ndarray, np.ndarray], Callable]

Z_CONST = 0.6745  # makes the MAD-based score comparable to a standard normal z


def modified_z_scores(residuals) -> Tuple[np.ndarray, float]:
    """M_i = 0.6745 (r_i - median r) / MAD, with MAD = median |r_i - median r|; returns (M, MAD)."""
    r = np.asarray(residuals, dtype=float)
    med = np.median(r)
    mad = float(np.median(np.abs(r - med)))
    if mad == 0.0:
        return np.zeros_like(r), 0.0
    return Z_CONST * (r - med) / mad, mad


def zscore_filter(x, y, fit_fn: FitFn, tau: float = 2.5, n_params: int = 3,
                  max_rounds: int = 50):
    """Iterated modified Z-score removal: fit, drop |M| > tau, refit, until nothing is dropped.

    Stops early when MAD = 0 or when dropping would leave fewer than n_params + 2 points (then the
    last fit is kept with nothing dropped in that round). Returns (model, keep mask over the input).

    Ambiguity in section 2 step 1: the scores could be taken over the whole training split (letting a
    dropped point return) or over the active points. We score the active points, the ones the fit
    used: "repeat until nothing is dropped" then terminates by construction. On the two known branches
    nothing is ever dropped at tau = 2.5, so both readings give the same fit there.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.ones(len(x), dtype=bool)
    model = fit_fn(x, y)
    for _ in range(max_rounds):
        idx = np.flatnonzero(keep)
        M, mad = modified_z_scores(y[idx] - model(x[idx]))
        if mad == 0.0:
            break
        drop = np.abs(M) > tau
        if not drop.any() or len(idx) - drop.sum() < n_params + 2:
            break
        keep[idx[drop]] = False
        model = fit_fn(x[keep], y[keep])
    return model, keep


def _trimmed_cost(model, x, y, h):
    r2 = (y - model(x)) ** 2
    order = np.argsort(r2, kind="stable")
    return float(r2[order[:h]].sum()), np.sort(order[:h])


def lts_size(n: int, alpha: float, n_params: int) -> int:
    """h = floor(alpha N), raised to n_params + 1 so a tiny set still over-determines the fit."""
    return min(max(int(np.floor(alpha * n)), n_params + 1), n)


def csteps(x, y, fit_fn: FitFn, model, h: int, max_steps: int = 50):
    """C-steps from a trial curve: keep the h points it fits best, refit on them, until the kept set repeats.

    Returns (model, kept indices, trimmed cost). Each step cannot raise the trimmed cost (Rousseeuw &
    Van Driessen's concentration property), so the loop ends at a fixed point; max_steps only guards
    against a solver that is not an exact minimiser cycling between two sets.
    """
    _, kept = _trimmed_cost(model, x, y, h)
    for _ in range(max_steps):
        model = fit_fn(x[kept], y[kept])
        _, new_kept = _trimmed_cost(model, x, y, h)
        if np.array_equal(new_kept, kept):
            break
        kept = new_kept
    return model, kept, _trimmed_cost(model, x, y, h)[0]


def lts_fit(x, y, fit_fn: FitFn, alpha: float = 0.75, n_params: int = 3, start_models=(),
            n_random_starts: int = 0, seed: int = 0, max_csteps: int = 50):
    """Least Trimmed Squares by C-steps from several starts (FAST-LTS style).

    Minimises the sum of the h = floor(alpha N) smallest squared residuals. The starts are trial
    curves: the ordinary fit on all N points, then `start_models` (the caller's, e.g. the solver's own
    starting curves), then, when n_random_starts > 0, fits on random (n_params + 1)-subsets drawn with
    `seed` (FAST-LTS's elemental starts). C-steps run from every start until the kept set repeats; the
    lowest trimmed cost wins, ties going to the earlier start, so the result is deterministic.
    Returns (model, keep mask of the h kept points).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    h = lts_size(n, alpha, n_params)
    full = fit_fn(x, y)
    if h >= n:
        return full, np.ones(n, dtype=bool)
    trials = [full] + list(start_models)
    rng = np.random.default_rng(seed)
    for _ in range(max(n_random_starts, 0)):
        sub = np.sort(rng.choice(n, size=min(n_params + 1, n), replace=False))
        try:
            trials.append(fit_fn(x[sub], y[sub]))
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            continue
    best = None
    for trial in trials:
        try:
            model, kept, cost = csteps(x, y, fit_fn, trial, h, max_csteps)
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            continue
        if best is None or cost < best[0] - 1e-12:
            best = (cost, model, kept)
    if best is None:
        raise RuntimeError("LTS: every start failed to fit")
    mask = np.zeros(n, dtype=bool)
    mask[best[2]] = True
    return best[1], mask


def r2_score(y, yhat) -> float:
    """Coefficient of determination; nan when y has no variance or fewer than 2 points."""
    y = np.asarray(y, dtype=float)
    yhat = np.asarray(yhat, dtype=float)
    if len(y) < 2:
        return float("nan")
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(((y - yhat) ** 2).sum()) / ss_tot


def rmse(y, yhat) -> float:
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return float("nan")
    return float(np.sqrt(np.mean((y - np.asarray(yhat, dtype=float)) ** 2)))
