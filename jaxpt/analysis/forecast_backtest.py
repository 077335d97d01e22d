"""Backtest of the online forecast: forecast each branch from a prefix, compare with the full-window fit.

For every branch and fraction f, the prefix is the points with x <= f * (largest x of the branch).
The reference is the full-window fit of `jaxpt.analysis.ceilings.fit_curves` (the authors' settings
when given). The shape prior of each branch is learned from the full-window fits of the *other*
branches (leave-one-out; branches with identical points, such as the Pure-RL branch listed under
every scene, count as the same branch), so no forecast sees its own final answer.
"""
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from jaxpt.analysis.forecast import LEVEL, forecast_gain
from jaxpt.analysis.forecast_prior import SigmoidPrior, branch_group

FRACTIONS = (0.25, 0.5, 0.75)
FAR_OFF = 5.0  # score points: a forecast this far from the reference counts as a miss


def _points(r: dict):
    return np.asarray(r["points"]["x"], float), np.asarray(r["points"]["y"], float)


def _same_data(a: dict, b: dict) -> bool:
    xa, ya = _points(a)
    xb, yb = _points(b)
    return len(xa) == len(xb) and np.allclose(xa, xb) and np.allclose(ya, yb) and a["P_sft"] == b["P_sft"]


def _constrained_alternative(fit: dict) -> Optional[float]:
    """The full window's constrained fit (C_mid capped at the data) where it did not identify U:
    the headline itself when the fitter headlines it, else its "constrained" record if it has one."""
    if fit.get("identified"):
        return None
    if fit.get("headline") == "constrained":
        return fit["A_post"]
    return (fit.get("constrained") or {}).get("A_post")


def leave_one_out_prior(fits: Sequence[dict], target: dict, **kw) -> SigmoidPrior:
    """Shape and noise prior from every full-window fit except the target and its duplicates."""
    exclude = [(r["scene"], r["sft_step"]) for r in fits if _same_data(r, target)]
    return SigmoidPrior.from_fits(fits, exclude=exclude, **kw)


def prefix_mask(x: np.ndarray, fraction: float) -> np.ndarray:
    return x <= fraction * x.max() + 1e-9


def backtest_branch(fit: dict, prior: SigmoidPrior, fractions=FRACTIONS, level: float = LEVEL,
                    baseline_fn=None) -> List[dict]:
    """Rows for one branch: the forecast at each fraction beside the full-window reference."""
    x, y = _points(fit)
    rows = []
    ref = fit["A_post"]
    ref_iv = fit.get("A_post_interval")
    for f in fractions:
        m = prefix_mask(x, f)
        t0 = time.perf_counter()
        fc = forecast_gain(x[m], y[m], fit["P_sft"], prior, level=level)
        seconds = time.perf_counter() - t0
        lo, hi = fc.A_post_interval
        row = {
            "scene": fit["scene"], "sft_step": fit["sft_step"], "fraction": f,
            "A_post_forecast": round(fc.A_post, 4), "A_post_interval": [round(lo, 4), round(hi, 4)],
            "identified": fc.identified, "identification_reasons": fc.identification_reasons,
            "p_bend_seen": round(fc.p_bend_seen, 4),
            "A_post_interval_data_only": [round(v, 4) for v in fc.A_post_interval_data_only],
            "C_mid_forecast": round(fc.C_mid, 4), "B_forecast": round(fc.B, 4),
            "n_prefix_points": int(m.sum()) - int((x[m] <= 0).sum()), "x_cut": round(float(x[m].max()), 4),
            "observed_max_prefix": round(fc.observed_max, 4), "noise_sd": round(fc.noise_sd, 4),
            "kappa": round(fc.kappa, 4), "n_outliers": len(fc.outlier_idx), "seconds": round(seconds, 4),
            "P_sft": fit["P_sft"], "A_post_full": ref, "A_post_full_interval": ref_iv,
            "full_identified": bool(fit["identified"]), "full_method": fit.get("method"),
            "A_post_full_constrained": _constrained_alternative(fit),
            "error": None if ref is None else round(fc.A_post - ref, 4),
            "covered": None if ref is None else bool(lo <= ref <= hi),
        }
        if baseline_fn is not None:
            row.update(baseline_fn(fit, m))
        rows.append(row)
    return rows


def backtest(fits: Sequence[dict], fractions=FRACTIONS, level: float = LEVEL, baseline_fn=None,
             progress: bool = False, prior_kw: Optional[dict] = None,
             targets: Optional[Sequence[dict]] = None) -> List[dict]:
    """Rows for every branch of `targets` (default: all of `fits`, result dicts of fit_curves) and
    every fraction; the priors are learned from `fits`."""
    rows = []
    it = fits if targets is None else targets
    if progress:
        from tqdm import tqdm
        it = tqdm(fits, desc="backtest", unit="branch")
    for fit in it:
        prior = leave_one_out_prior(fits, fit, group=branch_group(fit), **(prior_kw or {}))
        rows += backtest_branch(fit, prior, fractions, level, baseline_fn)
    return rows


def summarize_unidentified(rows: Sequence[dict]) -> Dict[float, dict]:
    """Per fraction, over branches the full window does not identify (no reference ceiling exists):
    how many forecasts also say not identified, the median interval width, and how often the interval
    holds the full window's constrained alternative (C_mid capped at the data)."""
    out = {}
    for f in sorted({r["fraction"] for r in rows}):
        rs = [r for r in rows if r["fraction"] == f and not r["full_identified"]]
        alt = [r for r in rs if r.get("A_post_full_constrained") is not None]
        out[f] = {
            "n": len(rs), "n_not_identified": sum(not r["identified"] for r in rs),
            "median_width": float(np.median([r["A_post_interval"][1] - r["A_post_interval"][0] for r in rs]))
            if rs else None,
            "n_constrained": len(alt),
            "n_constrained_covered": sum(r["A_post_interval"][0] <= r["A_post_full_constrained"]
                                         <= r["A_post_interval"][1] for r in alt),
        }
    return out


def summarize(rows: Sequence[dict], subset: Optional[str] = None, key: str = "") -> Dict[float, dict]:
    """Per fraction: median |error|, coverage, branches off by more than FAR_OFF, identified count.

    subset "identified" keeps branches whose full-window fit is identified (the ones a reference
    ceiling exists for, including runs headlined by their observed peak). key "" summarises the
    forecast, "baseline_" the prefix refit.
    """
    out = {}
    for f in sorted({r["fraction"] for r in rows}):
        rs = [r for r in rows if r["fraction"] == f and r["A_post_full"] is not None]
        if subset == "identified":
            rs = [r for r in rs if r["full_identified"]]
        errs = np.array([r[key + "error"] for r in rs if r.get(key + "error") is not None], float)
        cov = [r[key + "covered"] for r in rs if r.get(key + "covered") is not None]
        out[f] = {
            "n": len(rs),
            "median_abs_error": float(np.median(np.abs(errs))) if len(errs) else None,
            "mean_abs_error": float(np.mean(np.abs(errs))) if len(errs) else None,
            "coverage": float(np.mean(cov)) if cov else None, "n_covered": int(np.sum(cov)),
            "n_with_interval": len(cov),  # a 'peak' headline of the baseline has no interval
            "n_far_off": int((np.abs(errs) > FAR_OFF).sum()),
            "n_identified": int(sum(bool(r.get(key + "identified")) for r in rs)),
        }
    return out
