"""Grid posterior of the forecast: closed-form cell evidence and mixture quantiles against brute force."""
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from jaxpt.analysis.forecast_posterior import (GridPosterior, NoisePrior, cell_posterior, mixture_quantiles,
                                               t_scale_mixture)

X = np.array([0.0, 2.0, 5.0, 9.0, 14.0, 22.0, 35.0])
Y = np.array([0.0, 0.9, 2.6, 3.9, 5.1, 5.4, 6.2])
NOISE = NoisePrior(s0=0.4, nu0=3.0)
U_LO, U_HI = -20.0, 30.0
CELLS = [(math.log(6.0), math.log(1.3)), (math.log(10.0), math.log(1.8)), (math.log(25.0), math.log(0.9))]


def _curve(x, U, C, B):
    # written out here, independently of the library's sigmoid
    x = np.asarray(x, float)
    return np.where(x > 0, U / (1.0 + (C / np.maximum(x, 1e-300)) ** B), 0.0)


def _joint_on_grid(log_c, log_b, u_grid, u_prior=None):
    """log of likelihood x priors on a (U, log sigma^2) grid, summed by the trapezoid rule over log sigma^2.

    Flat U prior: density 1 (the same constant for every cell). Conjugate U prior: N(mean, sigma^2 / lam).
    sigma^2 ~ scaled inverse chi-square(nu0, s0^2) = InvGamma(nu0 / 2, nu0 s0^2 / 2).
    Returns log of the density of U (unnormalised, up to a constant shared by all cells) on u_grid.
    """
    C, B = math.exp(log_c), math.exp(log_b)
    xs, ys = X[X > 0], Y[X > 0]
    g = _curve(xs, 1.0, C, B)
    log_s2 = np.linspace(math.log(1e-4), math.log(25.0), 700)[:, None]
    s2 = np.exp(log_s2)
    u = u_grid[None, :]
    sse = ((ys[None, None, :] - u[..., None] * g) ** 2).sum(-1)
    log_f = -0.5 * len(xs) * np.log(2 * math.pi * s2) - 0.5 * sse / s2
    log_f = log_f + stats.invgamma(a=NOISE.nu0 / 2, scale=NOISE.nu0 * NOISE.s0 ** 2 / 2).logpdf(s2) + log_s2
    if u_prior is not None:
        mean, lam = u_prior
        log_f = log_f + stats.norm.logpdf(u, mean, np.sqrt(s2 / lam))
    m = log_f.max()
    return np.log(integrate.trapezoid(np.exp(log_f - m), log_s2[:, 0], axis=0)) + m


def _brute_log_evidence(log_c, log_b, u_prior=None):
    u = np.linspace(U_LO, U_HI, 2501)
    log_d = _joint_on_grid(log_c, log_b, u, u_prior)
    m = log_d.max()
    return math.log(integrate.trapezoid(np.exp(log_d - m), u)) + m


@pytest.mark.parametrize("lams", [None, (0.05, 0.2, 0.01)], ids=["flat_U", "conjugate_U_prior"])
def test_cell_evidence_matches_quadrature(lams):
    """Cells differ in (C_mid, B) and, with the U prior, in its precision (as the scale-mixture components do)."""
    lc = np.array([c for c, _ in CELLS])
    lb = np.array([b for _, b in CELLS])
    mean = 5.0
    log_ev, *_ = cell_posterior(X, Y, lc, lb, NOISE, U_LO, U_HI, None, 1.0, mean,
                                None if lams is None else np.array(lams))
    brute = np.array([_brute_log_evidence(c, b, None if lams is None else (mean, lam))
                      for (c, b), lam in zip(CELLS, lams or [None] * len(CELLS))])
    # The closed form drops constants shared by all cells: compare differences between cells.
    np.testing.assert_allclose(log_ev - log_ev[0], brute - brute[0], atol=2e-3)


def test_cell_u_distribution_matches_quadrature():
    """Per cell, U | data is a t: its median and 90% quantile agree with the numerically marginalised U."""
    lc, lb = np.array([CELLS[1][0]]), np.array([CELLS[1][1]])
    _, u_hat, scale, df, _ = cell_posterior(X, Y, lc, lb, NOISE, U_LO, U_HI, None)
    grid = np.linspace(u_hat[0] - 4, u_hat[0] + 4, 4001)
    d = np.exp(_joint_on_grid(CELLS[1][0], CELLS[1][1], grid))
    cdf = integrate.cumulative_trapezoid(d, grid, initial=0.0)
    cdf /= cdf[-1]
    for q in (0.5, 0.9):
        assert np.interp(q, cdf, grid) == pytest.approx(u_hat[0] + scale[0] * stats.t.ppf(q, df[0]), abs=0.02)


def _one_cell(u_hat, scale, df, lo, hi):
    one = np.ones(1)
    return GridPosterior(one * 0, one * 0, one, one * u_hat, one * scale, one * df, lo, hi, 0.0)


def test_quantiles_of_one_truncated_t():
    post = _one_cell(3.0, 1.5, 5.0, 1.0, 8.0)
    t = stats.t(5.0, loc=3.0, scale=1.5)
    a, b = t.cdf(1.0), t.cdf(8.0)
    qs = [0.025, 0.5, 0.975]
    expected = [t.ppf(a + q * (b - a)) for q in qs]
    np.testing.assert_allclose(mixture_quantiles(post, 1.0, qs), expected, atol=2e-5)
    # a multiplier scales the quantity and its truncation; an offset shifts it
    np.testing.assert_allclose(mixture_quantiles(post, 2.0, qs, offset=10.0), 10.0 + 2.0 * np.array(expected),
                               atol=4e-5)


def test_quantiles_of_a_two_cell_mixture():
    lo, hi = -5.0, 20.0
    post = GridPosterior(np.zeros(2), np.zeros(2), np.array([0.3, 0.7]), np.array([1.0, 6.0]),
                         np.array([0.5, 2.0]), np.array([4.0, 12.0]), lo, hi, 0.0)
    comps = [stats.t(4.0, 1.0, 0.5), stats.t(12.0, 6.0, 2.0)]

    def cdf(v):
        return sum(w * (c.cdf(v) - c.cdf(lo)) / (c.cdf(hi) - c.cdf(lo)) for w, c in zip([0.3, 0.7], comps))

    for q in (0.05, 0.3, 0.5, 0.95):
        ref = optimize.brentq(lambda v: cdf(v) - q, lo, hi, xtol=1e-12)
        assert mixture_quantiles(post, 1.0, [q])[0] == pytest.approx(ref, abs=2e-5)


def test_t_scale_mixture_has_the_gamma_moments():
    # precision w ~ Gamma(df/2, rate df/2): E[w] = 1, E[w^2] = 1 + 2/df (exact for a 3-node Gauss rule)
    for df in (3.0, 4.0, 8.0):
        w, log_p = t_scale_mixture(df, 3)
        p = np.exp(log_p)
        assert p.sum() == pytest.approx(1.0)
        assert p @ w == pytest.approx(1.0)
        assert p @ w ** 2 == pytest.approx(1.0 + 2.0 / df)
