"""Per-branch ceilings: P_sft, PL_rl, A_post = P_sft + PL_rl, with identifiability and intervals.

`fit_curves` is the library entry point: curves CSV (+ optional per-branch settings) -> one result
dict per RL branch, ready for `jaxpt.analysis.report.write_report`.
"""
from typing import Dict, List, Optional

import numpy as np

from jaxpt.analysis import curves as curves_mod
from jaxpt.analysis.fitting import RobustFit, robust_fit, search_settings
from jaxpt.analysis.identify import bootstrap_interval, constrained_fit, identification, profile_interval
from jaxpt.analysis.regimes import label_regimes
from jaxpt.analysis.robust import rmse
from jaxpt.analysis.settings import FitSettings, load_fit_settings
from jaxpt.analysis.sigmoid import U_BOUNDS

# A run "does not follow a sigmoid" (unstable: it collapses, or never fits) when the fit explains
# little of the training curve, or when the typical later point sits far below the fitted curve.
MIN_TRAIN_R2 = 0.5
COLLAPSE_RMSE_FACTOR = 3.0
COLLAPSE_MIN_DROP = 1.0  # score points; below this a shortfall is evaluation noise, not a collapse


def _r(v, nd=4):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def _unstable(fit: RobustFit, x, y) -> List[str]:
    why = []
    if not np.isfinite(fit.train_r2) or fit.train_r2 < MIN_TRAIN_R2:
        why.append("poor_train_fit")
    if fit.params.U <= 0:
        why.append("no_gain")
    if len(fit.val_idx):
        resid = y[fit.val_idx] - fit.params(x[fit.val_idx])
        drop = max(COLLAPSE_RMSE_FACTOR * fit.train_rmse, COLLAPSE_MIN_DROP)
        if np.median(resid) < -drop:
            why.append("collapse")
    return why


def analyze_branch(branch: curves_mod.BranchData, settings: Optional[FitSettings] = None,
                   search: bool = False, interval: str = "profile", n_boot: int = 200,
                   seed: int = 0, regime: Optional[str] = None) -> dict:
    """Fits one branch and returns its result dict (see report.py for the fields' meaning)."""
    x, y = branch.x, branch.y
    score = None
    if search or settings is None:
        fit, score, _ = search_settings(x, y, seed=seed)
    else:
        fit = robust_fit(x, y, settings, seed=seed)
    s = fit.settings
    p = fit.params
    xk, yk = x[fit.kept_idx], y[fit.kept_idx]
    u_max = min(100.0 - branch.P_sft, U_BOUNDS[1])
    if interval == "bootstrap":
        iv = bootstrap_interval(xk, yk, p, s.free_c0, u_max, n_boot=n_boot, seed=seed)
    elif interval == "profile":
        iv = profile_interval(xk, yk, p, s.free_c0, u_max)
    else:
        raise ValueError(f"interval must be 'profile' or 'bootstrap', got {interval!r}")
    identified, reasons = identification(p, xk, branch.P_sft, iv)

    constrained = None
    if not identified:
        c_max = float(xk.max())
        cp, cr2 = constrained_fit(xk, yk, s.free_c0, c_max)
        v = fit.val_idx
        constrained = {
            "label": f"constrained fit: C_mid <= {c_max:.2f} EFLOPs (max fitted x)",
            "PL_rl": _r(cp.U), "A_post": _r(branch.P_sft + cp.U), "C_mid": _r(cp.C_mid), "B": _r(cp.B),
            "c0": _r(cp.c0), "train_r2": _r(cr2),
            "val_rmse": _r(rmse(y[v], cp(x[v]))) if len(v) else None,
        }

    unstable = _unstable(fit, x, y)
    i_max = int(np.argmax(y))
    observed_gain = float(y[i_max])
    method = "peak" if unstable else "sigmoid"
    pl = observed_gain if unstable else p.U
    roles = np.array(["unused"] * len(x), dtype=object)
    roles[fit.val_idx] = "val"
    roles[fit.kept_idx] = "train"
    roles[fit.outlier_idx] = "outlier"
    roles[fit.trimmed_idx] = "trimmed"
    return {
        "scene": branch.scene, "sft_scene": branch.sft_scene, "sft_step": branch.sft_step,
        "sft_eflops": _r(branch.sft_x), "P_sft": _r(branch.P_sft),
        "method": method, "unstable_reasons": unstable,
        "PL_rl": _r(pl), "A_post": _r(branch.P_sft + pl),
        "U": _r(p.U), "C_mid": _r(p.C_mid), "B": _r(p.B), "c0": _r(p.c0),
        "identified": bool(identified), "identification_reasons": reasons,
        # The interval belongs to the sigmoid's U; a 'peak' headline is an observed value without one.
        "U_interval": [_r(iv.lo), _r(iv.hi)],
        "PL_rl_interval": None if unstable else [_r(iv.lo), _r(iv.hi)],
        "A_post_interval": None if unstable else [_r(branch.P_sft + iv.lo), _r(branch.P_sft + iv.hi)],
        "interval_method": iv.method, "interval_open": [bool(iv.lo_open), bool(iv.hi_open)],
        "constrained": constrained,
        "observed_max": _r(branch.P_sft + observed_gain), "observed_max_gain": _r(observed_gain),
        "observed_max_x": _r(x[i_max]), "x_max": _r(x.max()), "x_fit_max": _r(xk.max()),
        "val_rmse": _r(fit.val_rmse), "val_r2": _r(fit.val_r2), "train_r2": _r(fit.train_r2),
        "n_points": int(len(x)), "n_train": int(len(fit.train_idx)), "n_val": int(len(fit.val_idx)),
        "n_outliers": int(len(fit.outlier_idx)), "n_trimmed": int(len(fit.trimmed_idx)),
        "regime": regime, "settings": s.as_dict(), "settings_source": "search" if score is not None else "given",  # fit_curves refines this
        "selection_score": _r(score),
        "points": {"x": [round(float(v), 4) for v in x], "y": [round(float(v), 4) for v in y],
                   "role": [str(r) for r in roles]},
    }


def branch_regime(table: curves_mod.CurveTable, branch: curves_mod.BranchData,
                  delta: float = 0.02, delta2: float = 0.1) -> Optional[str]:
    """The SFT regime of the branch point, from the SFT curve's validation loss when the file has it."""
    curve = table.sft[branch.sft_scene]
    if curve.val_loss is None:
        return None
    have = np.isfinite(curve.val_loss)
    if not have[branch.sft_index]:
        return None
    labels = label_regimes(curve.x[have], curve.val_loss[have], delta, delta2)
    return labels[int(np.flatnonzero(have).tolist().index(branch.sft_index))]


def fit_curves(curves_csv, settings_json=None, *, search: Optional[bool] = None,
               interval: str = "profile", n_boot: int = 200, seed: int = 0,
               bench_counts: Optional[Dict[str, float]] = None,
               eflops_per_step: Optional[Dict[str, float]] = None, branches=None,
               progress: bool = False) -> List[dict]:
    """Fits every RL branch of a curves CSV and returns one result dict per branch.

    settings_json: the authors' fit_settings.json format; branches it lists use their settings, the
    others (or all, without a file) use the settings search when `search` (default: on exactly when
    no settings file is given) or else the default FitSettings.
    branches: optional iterable of (scene, sft_step) to restrict the work.
    """
    table = curves_mod.read_curves(curves_csv, bench_counts)
    given = load_fit_settings(settings_json) if settings_json else {}
    if search is None:
        search = not given
    keys = sorted(table.rl) if branches is None else [(s, int(k)) for s, k in branches]
    it = keys
    if progress:
        from tqdm import tqdm
        it = tqdm(keys, desc="fitting branches", unit="branch")
    results = []
    for scene, step in it:
        s = given.get((scene, step))
        sft_scene = s.sft_scene if s is not None and s.sft_scene else scene
        if sft_scene not in table.sft and "general" in table.sft and step == 0:
            sft_scene = "general"  # the Pure-RL branch starts from the base model, shared by all scenes
        br = curves_mod.build_branch(table, scene, step, sft_scene, eflops_per_step)
        use_search = s is None and search
        res = analyze_branch(br, s if s is not None else (None if use_search else FitSettings()),
                             search=use_search, interval=interval, n_boot=n_boot, seed=seed,
                             regime=branch_regime(table, br))
        res["settings_source"] = "file" if s is not None else ("search" if use_search else "default")
        results.append(res)
    return results


def min_val_losses(curves_csv, bench_counts=None) -> Dict[str, float]:
    """{scene: minimum SFT validation loss} for scenes whose SFT rows carry val_loss."""
    table = curves_mod.read_curves(curves_csv, bench_counts)
    return {s: float(np.nanmin(c.val_loss)) for s, c in table.sft.items()
            if c.val_loss is not None and np.isfinite(c.val_loss).any()}


def best_ceilings(results: List[dict], prefer_identified: bool = True) -> Dict[str, float]:
    """{scene: best A_post over its SFT branches}. Unidentified branches contribute their constrained
    alternative instead of an extrapolated asymptote when prefer_identified (the default)."""
    out: Dict[str, float] = {}
    for r in results:
        a = r["A_post"]
        if prefer_identified and not r["identified"] and r["method"] == "sigmoid":
            a = (r["constrained"] or {}).get("A_post", a)
        if a is not None and (r["scene"] not in out or a > out[r["scene"]]):
            out[r["scene"]] = a
    return out


def trajectory_selection(results: List[dict], min_losses: Dict[str, float]) -> Optional[dict]:
    """Ranking of SFT data sets by min validation loss, with its correlation to the best A_post.

    None when no data set has a validation loss. The Pure-RL branch (SFT step 0) starts from the base
    model, not from the data set, so it is left out of each data set's best ceiling.
    """
    from jaxpt.analysis.correlate import correlate, rank_datasets

    if not min_losses:
        return None
    best = best_ceilings([r for r in results if r["sft_step"] > 0])
    return {"ranking": rank_datasets(min_losses), "best_ceilings": best,
            "correlation": correlate(min_losses, best)}
