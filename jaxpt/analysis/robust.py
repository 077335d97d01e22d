"""Robust regression helpers: iterated modified Z-score outlier removal and Least Trimmed Squares.

Both take a generic `fit_fn(x, y) -> model` where `model(x)` predicts y, so they serve the sigmoid
and, in tests, a straight line. Everything is deterministic: LTS draws its random starts from a
seeded generator.
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
    return float(r2[order[:h]].sum()), order[:h]


def lts_fit(x, y, fit_fn: FitFn, alpha: float = 0.75, n_params: int = 3, n_starts: int = 8,
            seed: int = 0, max_csteps: int = 50, refit_fn=None, n_refine: int = 3):
    """Least Trimmed Squares by C-steps from several starts (FAST-LTS style).

    Minimises the sum of the h = floor(alpha N) smallest squared residuals. Start 0 is the fit on all
    points; the others fit random (n_params + 1)-subsets drawn from a generator seeded with `seed`.
    As in FAST-LTS, every start gets two C-steps (keep the h best-fitting points, refit), then the
    n_refine cheapest candidates run C-steps until the kept set repeats; the lowest trimmed cost wins.
    Returns (model, keep mask of the h kept points).

    refit_fn(x, y, model), when given, does the C-step refits warm-started from the current model
    (a cheaper solve for nonlinear fits); fit_fn still fits the starts.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    h = max(int(np.floor(alpha * n)), n_params + 1)
    if h >= n:
        return fit_fn(x, y), np.ones(n, dtype=bool)
    rng = np.random.default_rng(seed)
    subsets = [np.arange(n)]
    k = min(n_params + 1, n)
    for _ in range(max(n_starts - 1, 0)):
        subsets.append(np.sort(rng.choice(n, size=k, replace=False)))

    def csteps(model, kept, steps):
        for _ in range(steps):
            _, new_kept = _trimmed_cost(model, x, y, h)
            new_kept = np.sort(new_kept)
            if kept is not None and np.array_equal(new_kept, kept):
                return model, kept, True  # the kept set repeats: a C-step fixed point
            kept = new_kept
            model = fit_fn(x[kept], y[kept]) if refit_fn is None else refit_fn(x[kept], y[kept], model)
        return model, kept, False

    candidates = []
    for i, sub in enumerate(subsets):
        try:
            model, kept, done = csteps(fit_fn(x[sub], y[sub]), None, 2)
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            continue
        candidates.append((_trimmed_cost(model, x, y, h)[0], i, model, kept, done))
    if not candidates:
        raise RuntimeError("LTS: every start failed to fit")
    candidates.sort(key=lambda c: (c[0], c[1]))  # ties broken by start order: deterministic
    best = None
    for _, i, model, kept, done in candidates[:max(n_refine, 1)]:
        if not done:
            model, kept, _ = csteps(model, kept, max_csteps)
        cost = _trimmed_cost(model, x, y, h)[0]
        if best is None or cost < best[0] - 1e-12:
            best = (cost, model, kept)
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
