"""Section 2 of docs/algorithms.md step by step, each on hand-computed values."""
import itertools
import json

import numpy as np
import pytest

from jaxpt.analysis.curves import build_branch, read_curves
from jaxpt.analysis.fitting import robust_fit
from jaxpt.analysis.robust import csteps, lts_fit, lts_size
from jaxpt.analysis.settings import FitSettings, load_fit_settings, split_indices
from jaxpt.analysis.sigmoid import SigmoidParams, appendix_f_start, fit_sigmoid, sigmoid

HEADER = "file,phase,branch_sft_step,x_eflops,overall,gsm8k,olympiad_bench,math,minerva,aime,aime25\n"
SFT = "general_flops2valPerform_sft_dict.pkl"


def _row(file, phase, step, x, gsm8k, rest):
    # overall column deliberately wrong (99.9): section 2 says to recompute it.
    return f"{file},{phase},{step},{x},99.9,{gsm8k},{rest},{rest},{rest},{rest},{rest}\n"


@pytest.fixture
def tiny_csv(tmp_path):
    rl = "general_step2flops2valPerform_dapo_ckpt{}.pkl"
    text = HEADER + "".join([
        _row(SFT, "sft", "", 0, 40, 40),
        _row(SFT, "sft", "", 34.80, 80, 40),
        _row(SFT, "sft", "", 34.95, 60, 40),
        _row(SFT, "sft", "", 70.10, 60, 40),
        _row(rl.format(360), "rl_relative", 360, 5.0, 55, 55),
        _row(rl.format(360), "rl_relative", 360, 2.0, 53, 53),
        _row(rl.format(360), "rl_relative", 360, 9.0, 56, 56),
        _row(rl.format(360), "rl_relative", 360, 0.0, 52, 52),
        _row(rl.format(720), "rl_relative", 720, 3.0, 60, 60),
    ])
    path = tmp_path / "curves.csv"
    path.write_text(text)
    return path


def test_overall_is_the_count_weighted_mean_rounded_to_2_decimals(tiny_csv):
    # Authors' weights: gsm8k 1317 and 840 problems over the other five columns.
    # (80 * 1317 + 40 * 840) / 2157 = 138960 / 2157 = 64.4228 -> 64.42; (60 ...) = 112620 / 2157 -> 52.21.
    table = read_curves(tiny_csv)
    assert table.sft["general"].overall.tolist() == [40.0, 64.42, 52.21, 52.21]


def test_p_sft_is_the_nearest_sft_point_within_0p2_eflops(tiny_csv):
    table = read_curves(tiny_csv)
    # step 360 of SFT889K = 34.92 EFLOPs: the point at 34.95 (0.03 away) beats 34.80 (0.12 away).
    br = build_branch(table, "general", 360)
    assert br.sft_x == 34.95 and br.P_sft == 52.21
    # step 720 = 69.84 EFLOPs: the nearest point, 70.10, is 0.26 away, beyond the 0.2 tolerance.
    with pytest.raises(KeyError, match="within 0.2"):
        build_branch(table, "general", 720)


def test_points_are_origin_then_every_rl_point_sorted_by_x(tiny_csv):
    br = build_branch(read_curves(tiny_csv), "general", 360)
    # (0, 0) first; the RL evaluation at x = 0 stays a point of its own; gains over P_sft = 52.21.
    assert br.x.tolist() == [0.0, 0.0, 2.0, 5.0, 9.0]
    np.testing.assert_allclose(br.y, [0.0, -0.21, 0.79, 2.79, 3.79], atol=1e-9)


def test_index_splits():
    # First fit_points_num points (the origin among them), validation up to index val_most.
    tr, va = split_indices(10, FitSettings(fit_points_num=4, val_most=7))
    assert tr.tolist() == [0, 1, 2, 3] and va.tolist() == [4, 5, 6]
    # An index window [a, b) with a > 0 leaves the origin out; both splits clip to the point count.
    tr, va = split_indices(80, FitSettings(fit_points_num=75, train_split=(12, 87), val_split=(87, 100)))
    assert tr.tolist() == list(range(12, 80)) and va.tolist() == []


def test_authors_settings_format(tmp_path):
    entry = {"scene": "s1K", "sft_scene": "s1K", "ckpt": 124, "fit_points_num": 55, "use_lts": True,
             "lts_alpha": 0.85, "outlier_threshold": 3.0, "train_split": [0, 55], "val_split": [55, 100],
             "free_c0": False, "max_step": "auto", "val_most": "100", "detect": False}
    (tmp_path / "settings.json").write_text(json.dumps([entry]))
    (s,) = load_fit_settings(tmp_path / "settings.json").values()
    assert s == FitSettings(fit_points_num=55, use_lts=True, lts_alpha=0.85, outlier_threshold=3.0,
                            train_split=(0, 55), val_split=(55, 100), free_c0=False, val_most=100,
                            sft_scene="s1K")


def test_start_values_of_appendix_f():
    x = np.array([0.0, 2.0, 4.0, 10.0])
    y = np.array([0.0, 1.0, 3.0, 2.0])
    assert appendix_f_start(x, y) == SigmoidParams(U=3.0, C_mid=4.0, B=1.0, c0=0.0)  # median of 2, 4, 10
    assert appendix_f_start(x, y - 1.0, free_c0=True) == SigmoidParams(U=2.0, C_mid=4.0, B=1.0, c0=-1.0)


def test_x_is_clamped_at_1e_minus_8():
    # At x = 0 the curve is evaluated at 1e-8: 5 / (1 + (1 / 1e-8)^1) = 5 / (1 + 1e8).
    assert sigmoid(0.0, 5.0, 1.0, 1.0) == pytest.approx(5.0 / (1.0 + 1e8), rel=1e-9)


def test_bounds_hold_when_the_data_ask_for_more():
    x = np.linspace(0.5, 40, 30)
    # A step at x = 10: the steepness the data want is far beyond B = 10.
    step = np.where(x < 10, 0.0, 5.0)
    assert fit_sigmoid(x, step).B == pytest.approx(10.0)
    # A straight rise to 160: the asymptote goes to its bound U = 100.
    assert fit_sigmoid(x, 4.0 * x).U == pytest.approx(100.0)


def test_default_solve_is_the_optimum_reached_from_appendix_f_start():
    # Independent reference: scipy's curve_fit on the formula as printed, from the same start and bounds.
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(0)
    x = np.r_[0.0, np.linspace(3, 60, 18)]
    y = sigmoid(x, 7.0, 12.0, 1.3) + rng.normal(0, 0.2, len(x))
    y[0] = 0.0

    def printed(x, U, C, B):
        return U / (1.0 + (C / np.maximum(x, 1e-8)) ** B)

    ref, _ = curve_fit(printed, x, y, p0=[y.max(), np.median(x[x > 0]), 1.0],
                       bounds=([-100, 1e-8, 1e-4], [100, np.inf, 10]))
    fit = fit_sigmoid(x, y)
    np.testing.assert_allclose([fit.U, fit.C_mid, fit.B], ref, rtol=1e-4)


def test_zscore_removal_comes_before_lts_and_h_counts_the_survivors():
    rng = np.random.default_rng(4)
    x = np.r_[0.0, np.linspace(3, 60, 19)]
    y = sigmoid(x, 8.0, 12.0, 1.5) + rng.normal(0, 0.1, len(x))
    y[0] = 0.0
    y[11] -= 6.0  # a crashed evaluation
    fit = robust_fit(x, y, FitSettings(fit_points_num=20, use_lts=True, lts_alpha=0.75))
    assert 11 in fit.outlier_idx  # removed by the Z-score step, before LTS saw it
    n_surv = 20 - len(fit.outlier_idx)
    assert len(fit.kept_idx) == int(np.floor(0.75 * n_surv)) and len(fit.trimmed_idx) == n_surv - len(fit.kept_idx)
    # The LTS answer is a C-step fixed point: the kept points are the survivors the final curve fits best.
    surv = np.setdiff1d(np.arange(20), fit.outlier_idx)
    r2 = (y[surv] - fit.params(x[surv])) ** 2
    assert set(surv[np.argsort(r2)[:len(fit.kept_idx)]]) == set(fit.kept_idx)


def _line(xs, ys):
    a, b = np.polyfit(xs, ys, 1)
    return lambda t: a * np.asarray(t) + b


def test_csteps_by_hand():
    # Trial curve y = 0 keeps the four points on it (h = 4); the refit line is y = 0 again: fixed point.
    x = np.arange(6.0)
    y = np.array([0.0, 0.0, 0.0, 0.0, 10.0, 10.0])
    model, kept, cost = csteps(x, y, _line, lambda t: np.zeros_like(np.asarray(t, float)), h=4)
    assert kept.tolist() == [0, 1, 2, 3] and cost == pytest.approx(0.0, abs=1e-18)
    assert lts_size(6, 0.7, 2) == 4 and lts_size(20, 0.85, 3) == 17 and lts_size(4, 0.5, 3) == 4


def test_lts_from_several_starts_reaches_the_exhaustive_optimum():
    # Independent reference: every h-subset of 10 points, a line fitted to each, lowest trimmed cost.
    rng = np.random.default_rng(1)
    x = np.arange(10.0)
    y = 0.5 * x + rng.normal(0, 0.05, 10)
    y[[2, 8]] += [4.0, -3.0]
    h = lts_size(10, 0.75, 2)

    def trimmed(m):
        return np.sort((y - m(x)) ** 2)[:h].sum()

    best = min((trimmed(_line(x[list(s)], y[list(s)])), s) for s in itertools.combinations(range(10), h))
    bad_start = lambda t: 3.0 - 0.5 * np.asarray(t, float)  # noqa: E731 - a trial curve far from the data
    model, keep = lts_fit(x, y, _line, alpha=0.75, n_params=2, start_models=[bad_start])
    assert trimmed(model) == pytest.approx(best[0], rel=1e-9)
    assert np.flatnonzero(keep).tolist() == sorted(best[1])


def test_authors_settings_reach_each_branch(shared_dir):
    from jaxpt.analysis.ceilings import fit_curves

    retu = shared_dir / "data" / "retu"
    res = {(r["scene"], r["sft_step"]): r for r in fit_curves(
        retu / "curves.csv", retu / "fit_settings.json", branches=[("easy102K", 0), ("s1K", 124)])}
    # easy102K's Pure-RL branch takes P_sft from the general (base model) curve at step 0.
    assert res[("easy102K", 0)]["P_sft"] == 46.71 and res[("easy102K", 0)]["settings"]["sft_scene"] == "general"
    # s1K 124: train_split [0, 55), val_split [55, 100) over (0, 0) + its 73 RL rows = 74 points.
    s1k = res[("s1K", 124)]
    assert (s1k["n_points"], s1k["n_train"], s1k["n_val"]) == (74, 55, 19)
    assert s1k["settings"]["use_lts"] and s1k["settings"]["lts_alpha"] == 0.85
