"""Honest ceilings: cut-off curves are flagged, full curves identified with intervals; peak fallback."""
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


def _branch(x, noise, seed=0):
    rng = np.random.default_rng(seed)
    y = TRUE(x) + rng.normal(0, noise, len(x))
    y[0] = 0.0
    return BranchData("synthetic", "synthetic", 100, 1.0, P_SFT, x, y, 0)


def test_curve_cut_before_its_bend_is_not_identified():
    br = _branch(np.r_[0.0, np.linspace(1, 20, 20)], noise=0.05)  # ends at 40% of C_mid
    r = analyze_branch(br, FitSettings(fit_points_num=len(br.x)))
    assert r["identified"] is False and "C_mid_beyond_data" in r["identification_reasons"]
    con = r["constrained"]
    assert con is not None and "constrained" in con["label"] and con["C_mid"] <= 20.0 + 1e-6
    lo, hi = r["A_post_interval"]
    assert P_SFT < lo <= hi <= 100.0  # the interval stays within possible scores, unlike the raw fit


def test_full_curve_is_identified_with_a_covering_interval():
    br = _branch(np.r_[0.0, np.linspace(4, 200, 30)], noise=0.15)
    r = analyze_branch(br, FitSettings(fit_points_num=len(br.x)))
    assert r["identified"] is True and r["constrained"] is None
    lo, hi = r["PL_rl_interval"]
    assert lo < TRUE.U < hi and hi - lo < 1.5
    assert r["A_post"] == pytest.approx(P_SFT + r["PL_rl"])
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


def test_bootstrap_interval_small():
    br = _branch(np.r_[0.0, np.linspace(4, 200, 30)], noise=0.15)
    fit = robust_fit(br.x, br.y, FitSettings(fit_points_num=len(br.x)))
    iv = bootstrap_interval(br.x, br.y, fit.params, False, u_max=30.0, n_boot=25, seed=1)
    assert iv.lo < fit.params.U < iv.hi and not iv.hi_open
    again = bootstrap_interval(br.x, br.y, fit.params, False, u_max=30.0, n_boot=25, seed=1)
    assert (iv.lo, iv.hi) == (again.lo, again.hi)


def test_collapsing_run_falls_back_to_the_peak():
    x = np.r_[0.0, np.linspace(5, 150, 30)]
    br = _branch(x, noise=0.1)
    y = br.y.copy()
    y[22:] = -8.0 + np.linspace(0, 1, len(y) - 22)  # the run collapses after training stops
    br.y = y
    r = analyze_branch(br, FitSettings(fit_points_num=22))
    assert r["method"] == "peak" and "collapse" in r["unstable_reasons"]
    assert r["A_post"] == pytest.approx(P_SFT + y.max(), abs=1e-3)
    assert r["PL_rl_interval"] is None and r["U"] is not None  # the sigmoid is still reported
