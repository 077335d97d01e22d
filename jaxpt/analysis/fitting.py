"""Robust sigmoid fit of one branch (appendix F): split, Z-score removal, optional LTS, metrics, search."""
import dataclasses
from typing import List, Optional, Sequence

import numpy as np

from jaxpt.analysis.robust import lts_fit, r2_score, rmse, zscore_filter
from jaxpt.analysis.settings import FitSettings, search_grid, split_indices
from jaxpt.analysis.sigmoid import SigmoidParams, appendix_f_start, fit_sigmoid, n_params

SELECTION_W = 0.2


@dataclasses.dataclass
class RobustFit:
    params: SigmoidParams
    settings: FitSettings
    train_idx: np.ndarray  # the training split (indices into the branch's points)
    val_idx: np.ndarray
    kept_idx: np.ndarray  # training points the final fit used
    outlier_idx: np.ndarray  # dropped by the modified Z-score
    trimmed_idx: np.ndarray  # dropped by LTS
    train_r2: float
    train_rmse: float
    val_r2: float
    val_rmse: float


# LTS trial curves beyond the ordinary fit: appendix F's start with C_mid at these percentiles of x.
LTS_START_QUANTILES = (25.0, 50.0, 75.0)


def _sigmoid_fitter(free_c0: bool):
    return lambda x, y: fit_sigmoid(x, y, free_c0=free_c0)


def robust_fit(x, y, settings: FitSettings, seed: int = 0, lts_random_starts: int = 0) -> RobustFit:
    """Fits the branch's training split robustly and scores it on the validation split.

    Section 2 in its order: (1) iterated modified Z-score on the training split, then (2), when
    use_lts, LTS by C-steps on the points that survived, h = floor(alpha N) with N the survivors.
    Every fit is the single-start solve of step 3. Validation metrics use every validation point.

    Ambiguities, and the reading taken:
    - Z-score before LTS: the text numbers them so; LTS first would trim on a fit the outliers still pull.
    - N of h = floor(alpha N): the points LTS is given (the Z-score survivors), not the whole split.
    - "several starts (FAST-LTS style)": the starts are trial curves, the ordinary fit on the survivors
      and appendix F's start with C_mid at the quartiles of x, each followed by C-steps to a fixed
      point; the lowest trimmed cost wins. Adding FAST-LTS's random elemental starts
      (lts_random_starts > 0) finds lower trimmed costs on 7 of the 16 LTS branches of the authors'
      data, where the cost valley is nearly flat, and moves PL_rl there by 0.4 to 2.3 points (s1K 124
      runs to the U = 100 bound). The misses issue 16 lists (hard102K 720 by up to 2.3, s1K 124 far
      off) are where the two readings part, so the trial curves are the default.
    None of these touch the two known branches (no LTS, no outlier dropped).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    train, val = split_indices(len(x), settings)
    p = n_params(settings.free_c0)
    if len(train) < p + 1:
        raise ValueError(f"training split has {len(train)} points; need at least {p + 1}")
    fitter = _sigmoid_fitter(settings.free_c0)
    model, keep = zscore_filter(x[train], y[train], fitter, tau=settings.outlier_threshold, n_params=p)
    kept = train[keep]
    outliers = train[~keep]
    trimmed = np.array([], dtype=int)
    if settings.use_lts:
        xs, ys = x[kept], y[kept]
        starts = [appendix_f_start(xs, ys, settings.free_c0, q) for q in LTS_START_QUANTILES]
        model, lts_keep = lts_fit(xs, ys, fitter, alpha=settings.lts_alpha, n_params=p, start_models=starts,
                                  n_random_starts=lts_random_starts, seed=seed)
        trimmed = kept[~lts_keep]
        kept = kept[lts_keep]
    return RobustFit(
        params=model, settings=settings, train_idx=train, val_idx=val, kept_idx=kept,
        outlier_idx=outliers, trimmed_idx=trimmed,
        train_r2=r2_score(y[kept], model(x[kept])), train_rmse=rmse(y[kept], model(x[kept])),
        val_r2=r2_score(y[val], model(x[val])) if len(val) else float("nan"),
        val_rmse=rmse(y[val], model(x[val])) if len(val) else float("nan"))


def plain_fit(x, y, free_c0: bool = False) -> SigmoidParams:
    """Ordinary least squares on all points, no outlier handling (the baseline robust fits beat)."""
    return fit_sigmoid(x, y, free_c0=free_c0)


def selection_score(r2_val, r2_train, w: float = SELECTION_W) -> float:
    """mean R2_val - w * max(0, mean R2_train - mean R2_val): rewards validation fit, penalises a gap.

    -inf when no validation R^2 is defined (too few or constant validation points).
    """
    v = np.atleast_1d(np.asarray(r2_val, dtype=float))
    t = np.atleast_1d(np.asarray(r2_train, dtype=float))
    if not np.isfinite(v).any():
        return -np.inf
    v = float(v[np.isfinite(v)].mean())
    if not np.isfinite(t).any():
        return v
    return v - w * max(0.0, float(t[np.isfinite(t)].mean()) - v)


def _evaluate(x, y, candidates, w, seed, tried):
    best = None
    for s in candidates:
        try:
            fit = robust_fit(x, y, s, seed=seed)
            score = selection_score(fit.val_r2, fit.train_r2, w)
        except (ValueError, RuntimeError):
            fit, score = None, -np.inf
        tried.append((s, score))
        if fit is not None and (best is None or score > best[1]):  # ties keep the earlier candidate
            best = (fit, score)
    return best


def search_settings(x, y, grid: Optional[Sequence[FitSettings]] = None, w: float = SELECTION_W,
                    seed: int = 0, lts_alphas=(0.75, 0.85), n_lts: int = 2):
    """Picks fit settings by the paper's selection score; returns (best RobustFit, score, tried).

    tried lists (FitSettings, score) for every candidate. With a grid, every candidate is tried.
    Without, a staged search keeps it affordable (LTS costs several plain fits): first the training
    size x Z-score threshold grid without LTS, then LTS at each alpha on the n_lts best of those.
    Deterministic: ties keep the earlier candidate.
    """
    tried: List = []
    if grid is not None:
        best = _evaluate(x, y, list(grid), w, seed, tried)
    else:
        stage1 = search_grid(len(x), lts=((False, 0.75),))
        if not stage1:
            raise ValueError(f"no candidate settings for a branch of {len(x)} points")
        best = _evaluate(x, y, stage1, w, seed, tried)
        order = sorted(range(len(tried)), key=lambda i: (-tried[i][1], i))[:n_lts]
        stage2 = [dataclasses.replace(tried[i][0], use_lts=True, lts_alpha=a) for i in order
                  if np.isfinite(tried[i][1]) for a in lts_alphas]
        best2 = _evaluate(x, y, stage2, w, seed, tried)
        if best2 is not None and (best is None or best2[1] > best[1]):
            best = best2
    if best is None:
        raise RuntimeError("settings search: no candidate could be fitted")
    return best[0], best[1], tried
