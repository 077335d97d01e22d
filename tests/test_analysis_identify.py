"""Honest ceilings: an unidentified branch reports its constrained fit, every headline is a possible
score inside its own interval, and runs that do not follow a sigmoid report their peak."""
import numpy as np
import pytest

from jaxpt.analysis.ceilings import analyze_branch
from jaxpt.analysis.curves import BranchData
from jaxpt.analysis.fitting import robust_fit
from jaxpt.analysis.identify import bootstrap_interval, identification, profile_interval
from jaxpt.analysis.settings import FitSettings
from jaxpt.analysis.sigmoid import SigmoidParams

TRUE = SigmoidParams(U=10.0, C_mid=50.0, B=2.0)
P_SFT = 70.0


def _branch(x, noise, seed=0, p_sft=P_SFT, truth=TRUE):
    rng = np.random.default_rng(seed)
    y = truth(x) + rng.normal(0, noise, len(x))
    y[0] = 0.0
    return BranchData("synthetic", "synthetic", 100, 1.0, p_sft, x, y, 0)


def _possible_and_inside(r):
    assert r["A_post"] <= 100.0 and r["PL_rl"] <= 100.0 - r["P_sft"] + 1e-9
    assert r["A_post"] == pytest.approx(r["P_sft"] + r["PL_rl"], abs=1e-3)
    if r["headline"] != "peak":
        lo, hi = r["PL_rl_interval"]
        assert lo <= r["PL_rl"] <= hi
        alo, ahi = r["A_post_interval"]
        assert alo <= r["A_post"] <= ahi <= 100.0


def test_curve_cut_before_its_bend_reports_the_constrained_fit():
    br = _branch(np.r_[0.0, np.linspace(1, 20, 20)], noise=0.05)  # ends at 40% of C_mid
    r = analyze_branch(br, FitSettings(fit_points_num=len(br.x)))
    assert r["identified"] is False and "C_mid_beyond_data" in r["identification_reasons"]
    assert r["headline"] == "constrained" and "constrained" in r["headline_label"]
    assert r["C_mid"] <= 20.0 + 1e-6  # the headline curve: half its gain lies within the data
    assert r["C_mid_unconstrained"] > 20.0  # the unconstrained optimum keeps its own columns
    assert r["A_post_unconstrained"] == pytest.approx(P_SFT + r["U_unconstrained"], abs=1e-3)
    _possible_and_inside(r)


def test_a_ceiling_above_100_is_never_the_headline():
    # A straight rise from P_sft = 90: the unconstrained asymptote runs to its bound (A_post 190).
    x = np.r_[0.0, np.linspace(2, 60, 25)]
    br = BranchData("synthetic", "synthetic", 100, 1.0, 90.0, x, 0.08 * x, 0)
    r = analyze_branch(br, FitSettings(fit_points_num=len(x)))
    assert r["A_post_unconstrained"] > 100.0 and not r["identified"]
    assert r["headline"] == "constrained"
    _possible_and_inside(r)
    assert r["PL_rl"] <= 10.0 + 1e-9


def test_full_curve_is_identified_with_a_covering_interval():
    br = _branch(np.r_[0.0, np.linspace(4, 200, 30)], noise=0.15)
    r = analyze_branch(br, FitSettings(fit_points_num=len(br.x)))
    assert r["identified"] is True and r["headline"] == "sigmoid"
    lo, hi = r["PL_rl_interval"]
    assert lo < TRUE.U < hi and hi - lo < 1.5
    assert r["PL_rl"] == r["U"] == r["U_unconstrained"]
    _possible_and_inside(r)
    assert r["observed_max"] == pytest.approx(P_SFT + br.y.max(), abs=1e-3)


def test_unbounded_asymptote_is_flagged_at_its_bound():
    # A straight rise: the sigmoid can only match it with U at its bound and C_mid far away.
    x = np.r_[0.0, np.linspace(2, 60, 25)]
    y = 0.05 * x
    fit = robust_fit(x, y, FitSettings(fit_points_num=len(x)))
    iv = profile_interval(x, y, fit.params, False, u_max=100 - P_SFT)
    ok, reasons = identification(fit.params, x, P_SFT, iv)
    assert not ok and "interval_open" in reasons and iv.hi_open and iv.hi == pytest.approx(30.0)
    assert {"above_100", "C_mid_beyond_data"} <= set(reasons)


def test_profile_interval_ends_sit_where_the_f_criterion_flips():
    # Independent check of the ends: just inside each end a refit with U pinned keeps SSE under
    # SSE_min (1 + F(1, n-p) / (n-p)); just outside it does not.
    from scipy import stats

    from jaxpt.analysis.sigmoid import fit_sigmoid
    br = _branch(np.r_[0.0, np.linspace(4, 120, 20)], noise=0.3, seed=3)
    best = fit_sigmoid(br.x, br.y, multi_start=True)
    iv = profile_interval(br.x, br.y, best, False, u_max=30.0)
    n = len(br.x)

    def sse(u):
        pinned = fit_sigmoid(br.x, br.y, fixed_U=u, multi_start=True)
        return float(((br.y - pinned(br.x)) ** 2).sum())

    thr = float(((br.y - best(br.x)) ** 2).sum()) * (1 + stats.f.ppf(0.95, 1, n - 3) / (n - 3))
    assert iv.lo < best.U < iv.hi and not (iv.lo_open or iv.hi_open)
    for end, out in ((iv.lo, -1), (iv.hi, 1)):
        assert sse(end - out * 0.02) <= thr < sse(end + out * 0.02)


def test_bootstrap_interval_small_and_contains_the_fit():
    br = _branch(np.r_[0.0, np.linspace(4, 200, 30)], noise=0.15)
    fit = robust_fit(br.x, br.y, FitSettings(fit_points_num=len(br.x)))
    iv = bootstrap_interval(br.x, br.y, fit.params, False, u_max=30.0, n_boot=25, seed=1)
    assert iv.lo <= fit.params.U <= iv.hi and not iv.hi_open
    again = bootstrap_interval(br.x, br.y, fit.params, False, u_max=30.0, n_boot=25, seed=1)
    assert (iv.lo, iv.hi) == (again.lo, again.hi)


def test_collapsing_run_falls_back_to_the_peak():
    x = np.r_[0.0, np.linspace(5, 150, 30)]
    br = _branch(x, noise=0.1)
    y = br.y.copy()
    y[22:] = -8.0 + np.linspace(0, 1, len(y) - 22)  # the run collapses after training stops
    br.y = y
    r = analyze_branch(br, FitSettings(fit_points_num=22))
    assert r["headline"] == "peak" and r["method"] == "peak" and "collapse" in r["unstable_reasons"]
    assert r["A_post"] == pytest.approx(P_SFT + y.max(), abs=1e-3)
    assert r["PL_rl_interval"] is None and r["U"] is not None  # the sigmoid is still reported
    _possible_and_inside(r)
