"""Per-branch ceilings: P_sft, PL_rl, A_post = P_sft + PL_rl, with identifiability and intervals.

`fit_curves` is the library entry point: curves CSV (+ optional per-branch settings) -> one result
dict per RL branch, ready for `jaxpt.analysis.report.write_report`.
"""
from typing import Dict, List, Optional

import numpy as np

from jaxpt.analysis import curves as curves_mod
from jaxpt.analysis.fitting import robust_fit, search_settings
from jaxpt.analysis.headline import check_headline, choose_headline
from jaxpt.analysis.regimes import label_regimes
from jaxpt.analysis.settings import FitSettings, load_fit_settings


def _r(v, nd=4):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def _roles(n, fit) -> List[str]:
    roles = np.array(["unused"] * n, dtype=object)
    roles[fit.val_idx] = "val"
    roles[fit.kept_idx] = "train"
    roles[fit.outlier_idx] = "outlier"
    roles[fit.trimmed_idx] = "trimmed"
    return [str(r) for r in roles]


def analyze_branch(branch: curves_mod.BranchData, settings: Optional[FitSettings] = None,
                   search: bool = False, interval: str = "profile", n_boot: int = 200,
                   seed: int = 0, regime: Optional[str] = None, lts_random_starts: int = 0) -> dict:
    """Fits one branch and returns its result dict (report.py documents the fields).

    lts_random_starts: FAST-LTS elemental starts added to LTS's trial curves (see fitting.robust_fit).
    """
    x, y = branch.x, branch.y
    score = None
    if search or settings is None:
        fit, score, _ = search_settings(x, y, seed=seed)
    else:
        fit = robust_fit(x, y, settings, seed=seed, lts_random_starts=lts_random_starts)
    s, p = fit.settings, fit.params
    head = choose_headline(fit, x, y, branch.P_sft, interval=interval, n_boot=n_boot, seed=seed)
    hp = head.params
    iv = head.interval
    pl = _r(head.PL_rl)
    pl_iv = None if iv is None else [_r(iv.lo), _r(iv.hi)]
    check_headline(branch.P_sft, head.PL_rl, None if iv is None else [iv.lo, iv.hi])
    i_max = int(np.argmax(y))
    xk = x[fit.kept_idx]
    return {
        "scene": branch.scene, "sft_scene": branch.sft_scene, "sft_step": branch.sft_step,
        "sft_eflops": _r(branch.sft_x), "P_sft": _r(branch.P_sft),
        # The headline: what a ceiling table should print for this branch.
        "headline": head.kind, "headline_label": head.label,
        "PL_rl": pl, "A_post": _r(branch.P_sft + head.PL_rl),
        "PL_rl_interval": pl_iv,
        "A_post_interval": None if iv is None else [_r(branch.P_sft + iv.lo), _r(branch.P_sft + iv.hi)],
        "interval_method": None if iv is None else iv.method,
        "interval_open": None if iv is None else [bool(iv.lo_open), bool(iv.hi_open)],
        "identified": bool(head.identified), "identification_reasons": head.reasons,
        "method": "peak" if head.kind == "peak" else "sigmoid", "unstable_reasons": head.unstable,
        # The curve drawn with the headline (for 'peak', the sigmoid the run failed to follow).
        "U": _r(hp.U), "C_mid": _r(hp.C_mid), "B": _r(hp.B), "c0": _r(hp.c0), "train_r2": _r(head.train_r2),
        # The unconstrained optimum of section 2, whatever the headline is.
        "U_unconstrained": _r(p.U), "A_post_unconstrained": _r(branch.P_sft + p.U),
        "C_mid_unconstrained": _r(p.C_mid), "B_unconstrained": _r(p.B), "c0_unconstrained": _r(p.c0),
        "train_r2_unconstrained": _r(fit.train_r2), "val_r2_unconstrained": _r(fit.val_r2),
        "observed_max": _r(branch.P_sft + y[i_max]), "observed_max_gain": _r(y[i_max]),
        "observed_max_x": _r(x[i_max]), "x_max": _r(x.max()), "x_fit_max": _r(xk.max()),
        "val_rmse": _r(fit.val_rmse), "val_r2": _r(fit.val_r2),
        "n_points": int(len(x)), "n_train": int(len(fit.train_idx)), "n_val": int(len(fit.val_idx)),
        "n_outliers": int(len(fit.outlier_idx)), "n_trimmed": int(len(fit.trimmed_idx)),
        "regime": regime, "settings": s.as_dict(),
        "settings_source": "search" if score is not None else "given",  # fit_curves refines this
        "selection_score": _r(score),
        "points": {"x": [round(float(v), 4) for v in x], "y": [round(float(v), 4) for v in y],
                   "role": _roles(len(x), fit)},
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
               progress: bool = False, lts_random_starts: int = 0) -> List[dict]:
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
                             regime=branch_regime(table, br), lts_random_starts=lts_random_starts)
        res["settings_source"] = "file" if s is not None else ("search" if use_search else "default")
        results.append(res)
    return results


def min_val_losses(curves_csv, bench_counts=None) -> Dict[str, float]:
    """{scene: minimum SFT validation loss} for scenes whose SFT rows carry val_loss."""
    table = curves_mod.read_curves(curves_csv, bench_counts)
    return {s: float(np.nanmin(c.val_loss)) for s, c in table.sft.items()
            if c.val_loss is not None and np.isfinite(c.val_loss).any()}


def best_ceilings(results: List[dict], identified_only: bool = False) -> Dict[str, float]:
    """{scene: best headline A_post over its SFT branches}. Headlines are never extrapolated beyond the
    data (an unidentified branch reports its constrained fit); identified_only keeps identified ones."""
    out: Dict[str, float] = {}
    for r in results:
        a = r["A_post"]
        if identified_only and not r["identified"]:
            continue
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
