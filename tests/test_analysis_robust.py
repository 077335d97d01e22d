"""Robust fitting: Z-scores and LTS on hand-made data, sigmoid recovery with planted outliers."""
import numpy as np
import pytest

from jaxpt.analysis.fitting import plain_fit, robust_fit, search_settings, selection_score
from jaxpt.analysis.robust import lts_fit, modified_z_scores, r2_score, zscore_filter
from jaxpt.analysis.settings import FitSettings, split_indices
from jaxpt.analysis.sigmoid import SigmoidParams, fit_sigmoid, sigmoid

TRUE = SigmoidParams(U=8.0, C_mid=12.0, B=1.5)


def _line_fit(x, y):
    a, b = np.polyfit(x, y, 1)
    return lambda t: a * np.asarray(t) + b


def test_modified_z_by_hand():
    M, mad = modified_z_scores([0.0, 1.0, -1.0, 0.0, 10.0])  # median 0, MAD 1
    assert mad == 1.0
    np.testing.assert_allclose(M, 0.6745 * np.array([0, 1, -1, 0, 10]))
    assert modified_z_scores([2.0, 2.0, 2.0])[1] == 0.0


def test_zscore_filter_drops_gross_points_on_a_line():
    x = np.arange(12.0)
    y = 2 * x + 1 + np.array([0.1, -0.1, 0.05, 0, -0.05, 0.1, 0, -0.1, 0.05, 0, 0.1, -0.05])
    y[5] += 9.0
    model, keep = zscore_filter(x, y, _line_fit, tau=2.5, n_params=2)
    assert list(np.flatnonzero(~keep)) == [5]
    assert model(20.0) == pytest.approx(41.0, abs=0.1)


def test_lts_hand_made_line():
    # y = 2x + 1 exactly, two gross outliers; h = floor(0.8 * 10) = 8 keeps exactly the clean points.
    x = np.arange(10.0)
    y = 2 * x + 1
    y[3] += 20.0
    y[7] -= 15.0
    model, keep = lts_fit(x, y, _line_fit, alpha=0.8, n_params=2, n_random_starts=5, seed=0)
    assert keep.sum() == 8 and not keep[3] and not keep[7]
    np.testing.assert_allclose(model(np.array([0.0, 10.0])), [1.0, 21.0], atol=1e-9)


def _planted():
    rng = np.random.default_rng(0)
    x = np.r_[0.0, np.linspace(2, 60, 29)]
    y = TRUE(x) + rng.normal(0, 0.15, len(x))
    y[0] = 0.0
    y[[12, 18, 23, 27]] -= 6.0  # crashed evaluations on the plateau
    return x, y


def test_robust_fit_recovers_parameters_where_plain_fit_does_not():
    x, y = _planted()
    plain = plain_fit(x, y)
    fit = robust_fit(x, y, FitSettings(fit_points_num=len(x)))
    assert set([12, 18, 23, 27]) <= set(fit.outlier_idx.tolist())
    assert fit.params.U == pytest.approx(TRUE.U, abs=0.25)
    assert fit.params.C_mid == pytest.approx(TRUE.C_mid, rel=0.1)
    assert fit.params.B == pytest.approx(TRUE.B, rel=0.15)
    robust_err, plain_err = abs(fit.params.U - TRUE.U), abs(plain.U - TRUE.U)
    assert plain_err > 1.0 and plain_err > 5 * robust_err


def test_lts_sigmoid_is_deterministic():
    x, y = _planted()
    s = FitSettings(fit_points_num=20, use_lts=True, lts_alpha=0.75)
    a, b = robust_fit(x, y, s, seed=3), robust_fit(x, y, s, seed=3)
    assert a.params == b.params and np.array_equal(a.kept_idx, b.kept_idx)
    assert len(a.kept_idx) + len(a.trimmed_idx) + len(a.outlier_idx) == 20


def test_sigmoid_shape_and_free_c0():
    assert sigmoid(12.0, 8.0, 12.0, 1.5) == pytest.approx(4.0)
    assert sigmoid(0.0, 8.0, 12.0, 1.5, c0=1.0) == pytest.approx(1.0)
    x = np.linspace(0, 80, 25)
    truth = SigmoidParams(6.0, 20.0, 2.0, c0=1.5)
    fit = fit_sigmoid(x, truth(x), free_c0=True)
    assert (fit.U, fit.C_mid, fit.B, fit.c0) == pytest.approx((6.0, 20.0, 2.0, 1.5), rel=1e-3)


def test_splits():
    tr, va = split_indices(30, FitSettings(fit_points_num=20))
    assert tr.tolist() == list(range(20)) and va.tolist() == list(range(20, 30))
    tr, va = split_indices(30, FitSettings(fit_points_num=20, val_most=25))
    assert va.tolist() == list(range(20, 25))
    tr, va = split_indices(30, FitSettings(train_split=(3, 12), val_split=(12, 100)))
    assert tr.tolist() == list(range(3, 12)) and va.tolist() == list(range(12, 30))


def test_selection_score_and_search():
    assert selection_score(0.8, 0.9) == pytest.approx(0.78)
    assert selection_score([0.9, 0.7], [0.8, 0.8]) == pytest.approx(0.8)  # no penalty when val >= train
    x, y = _planted()
    grid = [FitSettings(fit_points_num=k, outlier_threshold=t) for k in (15, 22) for t in (2.5, 4.0)]
    best, score, tried = search_settings(x, y, grid=grid)
    scores = [sc for _, sc in tried]
    assert [s for s, _ in tried] == grid and score == max(scores)
    assert best.settings == grid[int(np.argmax(scores))]
    assert r2_score([1, 2, 3], [1, 2, 3]) == 1.0
