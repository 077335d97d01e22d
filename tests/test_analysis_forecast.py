"""Online ceiling forecast: calibration by simulation, identification, analytic predictions, hard limits."""
import math

import numpy as np
import pytest
from scipy import stats

from jaxpt.analysis.forecast import forecast, forecast_gain, prob_better
from jaxpt.analysis.forecast_prior import B_RANGE, SigmoidPrior

# A prior like the one the authors' branches give (C_mid ~ 15 EFLOPs, B ~ 1.8), used to simulate from.
PRIOR = SigmoidPrior(c_mu=math.log(15.0), c_scale=0.7, b_mu=math.log(1.8), b_scale=0.4, noise_sd=0.4,
                     noise_nu0=3.0)


def _curve(x, U, C, B):
    """The gain sigmoid, written out independently of the library."""
    x = np.asarray(x, float)
    return U / (1.0 + (C / x) ** B)


def _slope(x, U, C, B):
    """d/dx of U / (1 + (C/x)^B) = U B (C/x)^B / (x (1 + (C/x)^B)^2), by hand."""
    r = (C / x) ** B
    return U * B * r / (x * (1.0 + r) ** 2)


def _draw_from_prior(rng, p_sft):
    """(U, C_mid, B, sigma) from the forecast's own prior: U flat on [-P_sft, 100 - P_sft], log C_mid and
    log B Student-t (B within the grid's range), sigma^2 scaled inverse chi-square(nu0, s0^2)."""
    while True:
        lb = PRIOR.b_mu + PRIOR.b_scale * rng.standard_t(PRIOR.df)
        if math.log(B_RANGE[0]) < lb < math.log(B_RANGE[1]):
            break
    C = math.exp(PRIOR.c_mu + PRIOR.c_scale * rng.standard_t(PRIOR.df))
    U = rng.uniform(-p_sft, 100.0 - p_sft)
    sigma = math.sqrt(PRIOR.noise_nu0 * PRIOR.noise_sd ** 2 / rng.chisquare(PRIOR.noise_nu0))
    return U, C, math.exp(lb), sigma


def test_intervals_cover_the_truth_at_the_advertised_rate():
    """Curves drawn from the prior, cut anywhere from before the bend to far past it, with two crashed
    evaluations each. A Bayesian posterior's promise when the prior is the population: the truth's
    posterior CDF value (PIT) is uniform, so central intervals at every level hold the truth at their
    level, for PL_rl and for the score at twice the last compute."""
    rng = np.random.default_rng(20261201)
    n, p_sft = 100, 85.0
    pit_u, hit_pred, widths_identified = [], [], []
    for _ in range(n):
        U, C, B, sigma = _draw_from_prior(rng, p_sft)
        x_max = C * rng.uniform(0.3, 8.0)
        x = np.linspace(x_max / 25, x_max, 25)
        y = _curve(x, U, C, B) + rng.normal(0, sigma, len(x))
        crashed = rng.choice(len(x), 2, replace=False)
        y[crashed] -= rng.uniform(8, 15, 2) * max(sigma, 0.3)
        fc = forecast_gain(x, y, p_sft, PRIOR)
        pit_u.append(1.0 - fc.prob_a_post_above(p_sft + U))
        band = fc.predict([2 * x_max])
        hit_pred.append(band.lo[0] <= p_sft + _curve(2 * x_max, U, C, B) <= band.hi[0])
        if fc.identified:
            widths_identified.append(fc.PL_rl_interval[1] - fc.PL_rl_interval[0])
    pit_u = np.array(pit_u)
    for level, slack in ((0.5, 0.13), (0.8, 0.1), (0.95, 0.05)):  # ~2.5 binomial sd over 100 curves
        covered = np.mean(np.abs(pit_u - 0.5) <= level / 2)
        assert abs(covered - level) <= slack, (level, covered)
    assert stats.kstest(pit_u, "uniform").pvalue > 0.01
    assert 0.90 <= np.mean(hit_pred) <= 0.995
    # and the intervals say something where the data identify the ceiling (not a trivially wide band)
    assert len(widths_identified) >= 20 and np.median(widths_identified) < 3.0


def test_cut_before_the_bend_is_not_identified_and_after_it_is():
    rng = np.random.default_rng(3)
    U, C, B, p_sft = 6.0, 40.0, 2.0, 74.0
    x = np.linspace(2.0, 200.0, 80)
    y = _curve(x, U, C, B) + rng.normal(0, 0.3, len(x))
    before = x <= 0.4 * C  # the curve has made ~14% of its gain here
    early = forecast_gain(x[before], y[before], p_sft, PRIOR)
    assert not early.identified and "bend_not_seen" in early.identification_reasons
    assert early.p_bend_seen < 0.5
    assert early.A_post_interval[1] - early.A_post_interval[0] > 4.0  # honest: wide
    late = forecast_gain(x, y, p_sft, PRIOR)
    assert late.identified and late.p_bend_seen > 0.99
    assert late.A_post_interval[0] <= p_sft + U <= late.A_post_interval[1]


def test_noise_free_predictions_match_the_sigmoid():
    U, C, B, p_sft = 8.0, 12.0, 1.5, 70.0
    x = np.linspace(1.0, 80.0, 40)
    fc = forecast_gain(x, _curve(x, U, C, B), p_sft, SigmoidPrior.weak(noise_sd=1e-4))
    assert fc.A_post == pytest.approx(p_sft + U, abs=1e-3)
    assert fc.C_mid == pytest.approx(C, rel=1e-3) and fc.B == pytest.approx(B, rel=1e-3)
    at = np.array([0.5, 6.0, 12.0, 30.0, 200.0, 1000.0])
    np.testing.assert_allclose(fc.predict(at).median, p_sft + _curve(at, U, C, B), atol=1e-3)
    np.testing.assert_allclose(fc.gain_per_eflop(at).median, _slope(at, U, C, B), rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(fc.remaining_gain(at).median, U - _curve(at, U, C, B), atol=1e-3)
    band = fc.predict(at)
    assert np.all(band.lo <= band.median) and np.all(band.median <= band.hi)


def test_ceiling_never_exceeds_100_and_the_point_lies_in_its_interval():
    rng = np.random.default_rng(11)
    for p_sft in (90.0, 97.0, 99.5):
        for cut in (0.2, 0.6, 3.0):
            C = 20.0
            x = np.linspace(1.0, cut * C, 15)
            y = _curve(x, 0.9 * (100 - p_sft), C, 1.2) + rng.normal(0, 0.4, len(x))
            fc = forecast_gain(x, y, p_sft, PRIOR)
            lo, hi = fc.A_post_interval
            assert lo <= fc.A_post <= hi <= 100.0
            assert fc.PL_rl_interval[0] <= fc.PL_rl <= fc.PL_rl_interval[1]
            band = fc.predict([10 * cut * C])
            assert band.hi[0] <= 100.0


def test_crashed_evaluations_are_screened_out():
    rng = np.random.default_rng(5)
    U, C, B, p_sft = 7.0, 10.0, 1.6, 75.0
    x = np.linspace(1.0, 60.0, 30)
    y = _curve(x, U, C, B) + rng.normal(0, 0.25, len(x))
    y[[9, 17, 24]] -= 6.0
    fc = forecast_gain(x, y, p_sft, PRIOR)
    assert {9, 17, 24} <= set(fc.outlier_idx) and len(fc.outlier_idx) <= 5
    assert fc.A_post_interval[0] <= p_sft + U <= fc.A_post_interval[1]


def test_raw_scores_form_matches_the_gain_form_and_drops_the_branch_point():
    rng = np.random.default_rng(2)
    x = np.r_[0.0, np.linspace(2.0, 40.0, 12)]
    scores = 72.0 + _curve(np.maximum(x, 1e-9), 5.0, 8.0, 1.7) + rng.normal(0, 0.3, len(x))
    scores[0] = 50.0  # the branch point's evaluation: P_sft defines it, so it must not matter
    a = forecast(x, scores, 72.0, PRIOR)
    b = forecast_gain(x[1:][::-1], (scores[1:] - 72.0)[::-1], 72.0, PRIOR)  # order does not matter either
    assert a.A_post == pytest.approx(b.A_post, abs=1e-9)
    assert a.A_post_interval == pytest.approx(b.A_post_interval, abs=1e-9)
    assert a.n_points == 12
    with pytest.raises(ValueError):
        forecast([0.0], [72.0], 72.0)


def test_comparisons_follow_the_posteriors():
    rng = np.random.default_rng(4)
    x = np.linspace(1.0, 60.0, 25)
    high = forecast_gain(x, _curve(x, 9.0, 10.0, 1.5) + rng.normal(0, 0.3, 25), 75.0, PRIOR)
    low = forecast_gain(x, _curve(x, 6.0, 10.0, 1.5) + rng.normal(0, 0.3, 25), 75.0, PRIOR)
    assert prob_better(high, low) > 0.99 and prob_better(low, high) < 0.01
    # the exact tail probability at the interval ends is the interval's tail mass
    tail = (1 - high.level) / 2
    assert high.prob_a_post_above(high.A_post_interval[1]) == pytest.approx(tail, abs=1e-4)
    assert high.prob_a_post_above(high.A_post) == pytest.approx(0.5, abs=1e-4)
    draws = high.sample_a_post(20000, seed=1)
    assert np.quantile(draws, [tail, 0.5, 1 - tail]) == pytest.approx(
        [high.A_post_interval[0], high.A_post, high.A_post_interval[1]], abs=0.05)
