"""Grid posterior of the gain sigmoid y = U / (1 + (C_mid / x)^B) (docs/algorithms.md section 1, c0 = 0).

Why a grid and not an optimiser: given (C_mid, B) the curve is linear in U, so U and the noise
variance integrate out in closed form (U: flat over its physical range, or a conjugate normal prior,
or a scale mixture of those; sigma^2: scaled inverse chi-square). Only the two nonlinear parameters
need numerical integration, and a nested 2-D grid over (log C_mid, log B) does that accurately in
milliseconds. The result is a
mixture of truncated Student-t distributions for U, one per cell, which also gives every quantity
that is U times a function of (C_mid, B): the score at a future compute, the remaining gain, the
marginal gain per EFLOP. A grid also copes with what breaks optimisers on short prefixes: the long
ridge towards large C_mid and U when the curve has not bent yet.
"""
import dataclasses
import math
from typing import Callable, Optional, Tuple

import numpy as np
from scipy.special import expit, gammaln, stdtr, stdtrit

LogPrior = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (log_c, log_b) -> log density per cell

TINY = 1e-300
PRUNE_MASS = 1e-9  # cells jointly holding less posterior mass than this are dropped
BULK_TAIL = 1e-3  # refinement re-grids the box of the cells holding all but this much mass


@dataclasses.dataclass
class NoisePrior:
    """sigma^2 ~ scaled inverse chi-square(nu0, s0^2): nu0 pseudo-points whose noise sd was s0."""
    s0: float
    nu0: float


@dataclasses.dataclass
class GridPosterior:
    """Posterior cells over (C_mid, B); U | cell ~ t_df(u_hat, u_scale) truncated to [u_lo, u_hi]."""
    log_c: np.ndarray
    log_b: np.ndarray
    weight: np.ndarray  # sums to 1
    u_hat: np.ndarray
    u_scale: np.ndarray
    df: np.ndarray
    u_lo: float
    u_hi: float
    noise_sd: float  # posterior-mean estimate of the noise sd (score points)

    def shape(self, x) -> np.ndarray:
        """g(x) per cell (cells x len(x)): the curve divided by U."""
        return _shape(np.atleast_1d(np.asarray(x, float)), self.log_c, self.log_b)

    def mean_curve(self, x) -> np.ndarray:
        """Posterior-mean curve, ignoring the truncation of U (residuals for outlier screening)."""
        u = np.clip(self.u_hat, self.u_lo, self.u_hi)
        return (self.weight * u) @ self.shape(x)


def _shape(x, log_c, log_b):
    logx = np.log(np.maximum(x, 1e-12))
    z = np.exp(log_b)[:, None] * (logx[None, :] - log_c[:, None])
    g = expit(z)
    g[:, x <= 0] = 0.0
    return g


def t_cdf(df):
    """Student-t CDF z -> P(T <= z) for the given df (scalar or per cell).

    scipy's stdtr costs ~0.4 us a value and quantiles evaluate it on every cell many times, so for one
    df the CDF is tabulated once over u = arcsinh(z) (|z| up to 4e6, interpolation error ~1e-6) and
    interpolated; per-cell dfs fall back to stdtr.
    """
    d = np.unique(np.asarray(df, float))
    if len(d) != 1:
        return lambda z: stdtr(df, z)
    u = np.linspace(-16.0, 16.0, 8001)
    table = stdtr(float(d[0]), np.sinh(u))
    return lambda z: np.interp(np.arcsinh(z), u, table)


def t_mass(cdf, a, b):
    """P(a < T < b) for Student-t T with CDF `cdf`, computed on the tail side to avoid cancellation."""
    flip = a > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    return np.maximum(cdf(hi) - cdf(lo), 0.0)


def cell_posterior(x, y, log_c, log_b, noise: NoisePrior, u_lo: float, u_hi: float,
                   log_prior: Optional[LogPrior], kappa: float = 1.0, u_mean: float = 0.0,
                   u_lam: Optional[np.ndarray] = None):
    """Log evidence of each (C_mid, B) cell and the t-distribution of U in it.

    kappa in (0, 1] tempers the likelihood (each point counts as kappa points): the effective-sample
    correction for residuals that are correlated from one evaluation to the next.
    u_lam: None for a flat prior on U over [u_lo, u_hi]; else per-cell precisions lam of a conjugate
    prior U ~ N(u_mean, sigma^2 / lam) (lam pseudo-points that measured U directly), which keeps
    the closed form; a spread of lam over cells makes the prior a scale mixture (heavy tails).
    """
    pos = x > 0  # the branch point (0, 0) is a definition, not a measurement
    xs, ys = x[pos], y[pos]
    n = kappa * len(xs)
    g = _shape(xs, log_c, log_b)
    s_gg = kappa * np.maximum((g * g).sum(1), TINY)
    s_gy = kappa * (g @ ys)
    s_yy = kappa * float(ys @ ys)
    if u_lam is None:
        df = n - 1.0 + noise.nu0  # flat prior on U: one point's worth of information goes to U
        log_ev = -0.5 * np.log(s_gg)
    else:
        s_gg = s_gg + u_lam
        s_gy = s_gy + u_lam * u_mean
        s_yy = s_yy + u_lam * u_mean ** 2
        df = n + noise.nu0
        log_ev = 0.5 * np.log(u_lam) - 0.5 * np.log(s_gg)
    if df <= 0:
        raise ValueError(f"{len(xs)} measured points and nu0 = {noise.nu0}: the noise is not determined")
    u_hat = s_gy / s_gg
    sse = np.maximum(s_yy - s_gy * u_hat, 0.0)
    rss = noise.nu0 * noise.s0 ** 2 + sse
    scale = np.sqrt(np.maximum(rss / df, TINY) / s_gg)
    mass = t_mass(t_cdf(df), (u_lo - u_hat) / scale, (u_hi - u_hat) / scale)
    log_ev = log_ev - 0.5 * df * np.log(np.maximum(rss, TINY)) + np.log(np.maximum(mass, TINY))
    if log_prior is not None:
        log_ev = log_ev + log_prior(log_c, log_b)
    return log_ev, u_hat, scale, np.full_like(u_hat, df), rss / df


def _centres(lo, hi, n):
    d = (hi - lo) / n
    return lo + d * (np.arange(n) + 0.5), d


def grid_posterior(x, y, noise: NoisePrior, u_lo: float, u_hi: float, log_prior: Optional[LogPrior],
                   c_range: Tuple[float, float], b_range: Tuple[float, float], kappa: float = 1.0,
                   u_prior: Optional[Tuple[float, np.ndarray, np.ndarray]] = None,
                   n_c: int = 72, n_b: int = 36, refine: int = 3) -> GridPosterior:
    """Posterior on a nested (log C_mid, log B) grid: coarse everywhere, finer where the bulk is.

    u_prior: None (flat U) or (mean, lams, log_weights): a scale mixture of conjugate normal priors
    on U, one component per lam (see cell_posterior); every (C_mid, B) cell is split over them.
    Refinement: the box of coarse cells holding all but BULK_TAIL of the mass (plus one cell of
    margin) is re-gridded n_c x n_b; cells outside it keep their coarse area. Repeated while the box
    shrinks, so a sharp posterior (many precise points) is resolved while the tails stay covered.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    box = (c_range[0], c_range[1], b_range[0], b_range[1])
    parts = []  # (cells arrays, log area) of each level, outside the next level's box
    for level in range(refine + 1):
        cc, dc = _centres(box[0], box[1], n_c)
        bc, db = _centres(box[2], box[3], n_b)
        C, Bm = np.meshgrid(cc, bc, indexing="ij")
        cells = _evaluate(x, y, C.ravel(), Bm.ravel(), noise, u_lo, u_hi, log_prior, kappa, u_prior)
        cells["log_ev"] = cells["log_ev"] + math.log(dc * db)
        if level == refine:
            parts.append(cells)
            break
        w = np.exp(cells["log_ev"] - cells["log_ev"].max())
        bulk = _support(w / w.sum(), BULK_TAIL)
        new = (max(cells["log_c"][bulk].min() - 1.5 * dc, box[0]), min(cells["log_c"][bulk].max() + 1.5 * dc, box[1]),
               max(cells["log_b"][bulk].min() - 1.5 * db, box[2]), min(cells["log_b"][bulk].max() + 1.5 * db, box[3]))
        if (new[1] - new[0]) * (new[3] - new[2]) > 0.5 * (box[1] - box[0]) * (box[3] - box[2]):
            parts.append(cells)  # the bulk fills the box: finer cells would not change much
            break
        outside = ~((cells["log_c"] > new[0]) & (cells["log_c"] < new[1])
                    & (cells["log_b"] > new[2]) & (cells["log_b"] < new[3]))
        parts.append({k: v[outside] for k, v in cells.items()})
        box = new
    cells = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    w = np.exp(cells["log_ev"] - cells["log_ev"].max())
    w /= w.sum()
    keep = _support(w)
    w = w[keep] / w[keep].sum()
    noise_sd = float(np.sqrt(w @ cells["s2"][keep]))
    return GridPosterior(cells["log_c"][keep], cells["log_b"][keep], w, cells["u_hat"][keep],
                         cells["scale"][keep], cells["df"][keep], u_lo, u_hi, noise_sd)


def _evaluate(x, y, lc, lb, noise, u_lo, u_hi, log_prior, kappa, u_prior) -> dict:
    if u_prior is None:
        log_ev, u_hat, scale, df, s2 = cell_posterior(x, y, lc, lb, noise, u_lo, u_hi, log_prior, kappa)
    else:
        u_mean, lams, log_wk = u_prior
        k = len(lams)
        lc, lb = np.repeat(lc, k), np.repeat(lb, k)
        lam = np.tile(np.asarray(lams, float), len(lc) // k)
        log_ev, u_hat, scale, df, s2 = cell_posterior(x, y, lc, lb, noise, u_lo, u_hi, log_prior, kappa,
                                                      u_mean, lam)
        log_ev = log_ev + np.tile(np.asarray(log_wk, float), len(lc) // k)
    return {"log_c": lc, "log_b": lb, "log_ev": log_ev, "u_hat": u_hat, "scale": scale, "df": df, "s2": s2}


def t_scale_mixture(df: float, n_nodes: int = 5):
    """Precision multipliers w_k and log weights such that sum_k p_k N(0, s^2 / w_k) ~ t_df(0, s).

    A Student-t is a normal whose precision is Gamma(df/2, rate df/2); generalised Gauss-Laguerre
    quadrature turns that integral into a few components.
    """
    from scipy.special import roots_genlaguerre

    t, wq = roots_genlaguerre(n_nodes, df / 2.0 - 1.0)
    return t / (df / 2.0), np.log(wq / wq.sum())


def _support(w, prune: float = PRUNE_MASS):
    """Mask of the cells that hold all but `prune` of the mass."""
    order = np.argsort(w)
    tail = np.cumsum(w[order])
    keep = np.ones(len(w), bool)
    keep[order[tail < prune]] = False
    return keep


class _TruncatedMixture:
    """offset + a_cell * U under the posterior (a_cell >= 0): a mixture of truncated t's, one per cell.

    Cells jointly holding less than `prune` of the mass are left out: they cannot move a probability
    by more than that.
    """

    def __init__(self, post: GridPosterior, a, offset: float = 0.0, prune: float = 1e-7):
        a = np.broadcast_to(np.asarray(a, float), post.weight.shape)
        keep = _support(post.weight, prune)
        self.offset = offset
        self.a, self.df = a[keep], post.df[keep]
        self.weight = post.weight[keep] / post.weight[keep].sum()
        self.loc = self.a * post.u_hat[keep]
        self.scale = np.maximum(self.a * post.u_scale[keep], 1e-300)
        self.lo, self.hi = self.a * post.u_lo, self.a * post.u_hi
        self.cdf = t_cdf(self.df)
        self.t_lo = self.cdf((self.lo - self.loc) / self.scale)
        self.mass = t_mass(self.cdf, (self.lo - self.loc) / self.scale, (self.hi - self.loc) / self.scale)
        # Where the t is far wider than the range (the data say nothing about U) its truncation is flat.
        self.flat = self.mass < 1e-9
        self.degenerate = self.hi - self.lo < 1e-12
        self.norm = np.exp(gammaln((self.df + 1) / 2) - gammaln(self.df / 2)) / np.sqrt(self.df * np.pi)

    def cdf_pdf(self, v):
        """Mixture CDF and density at values v (without the offset)."""
        v = np.asarray(v, float)[:, None]
        z = np.clip((v - self.loc) / self.scale, -1e100, 1e100)  # z * z must not overflow
        mass = np.where(self.flat, 1.0, self.mass)
        width = np.where(self.degenerate, 1.0, self.hi - self.lo)
        f = np.where(self.flat, (v - self.lo) / width, (self.cdf(z) - self.t_lo) / mass)
        f = np.where(self.degenerate, (v >= self.lo).astype(float), f)
        d = np.where(self.flat, 1.0 / width,
                     self.norm * (1 + z * z / self.df) ** (-(self.df + 1) / 2) / (self.scale * mass))
        d = np.where(self.degenerate | (v < self.lo) | (v > self.hi), 0.0, d)
        return np.clip(f, 0.0, 1.0) @ self.weight, d @ self.weight

    def quantiles(self, qs, tol: float = 1e-8, max_iter: int = 80):
        """Inverts the CDF by Newton steps kept inside a bisection bracket (a step leaving the bracket
        is replaced by bisection): Newton speed on smooth CDFs, never worse than bisection."""
        qs = np.atleast_1d(np.asarray(qs, float))
        left = np.full(len(qs), self.lo.min())
        right = np.full(len(qs), self.hi.max())
        # Start from the quantiles of the cell centres: close to the answer when the cells are narrow.
        v = parameter_quantiles(np.clip(self.loc, self.lo, self.hi), self.weight, qs)
        span = max(float(right[0] - left[0]), 1e-12)
        for _ in range(max_iter):
            F, f = self.cdf_pdf(v)
            err = F - qs
            left = np.where(err < 0, v, left)
            right = np.where(err > 0, v, right)
            if np.all((np.abs(err) < tol) | (right - left < tol * span)):
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                step = v - err / f
            ok = (f > 0) & (step > left) & (step < right)
            v = np.where(ok, step, 0.5 * (left + right))
        return self.offset + v

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws: a cell by weight, then the inverse CDF of its truncated t at a uniform draw."""
        c = rng.choice(len(self.weight), size=n, p=self.weight)
        p = self.t_lo[c] + rng.random(n) * self.mass[c]
        draw = self.loc[c] + self.scale[c] * stdtrit(self.df[c], np.clip(p, 1e-300, 1 - 1e-16))
        uniform = self.lo[c] + rng.random(n) * (self.hi[c] - self.lo[c])
        draw = np.where(self.flat[c], uniform, draw)
        return self.offset + np.clip(draw, self.lo[c], self.hi[c])


def mixture_quantiles(post: GridPosterior, a, qs, offset: float = 0.0) -> np.ndarray:
    """Quantiles of offset + a_cell * U under the posterior (a_cell >= 0, one per cell, or a scalar)."""
    return _TruncatedMixture(post, a, offset).quantiles(qs)


def mixture_cdf(post: GridPosterior, a, values, offset: float = 0.0) -> np.ndarray:
    """P(offset + a_cell * U <= value) for each value."""
    m = _TruncatedMixture(post, a, offset)
    return m.cdf_pdf(np.atleast_1d(np.asarray(values, float)) - offset)[0]


def mixture_sample(post: GridPosterior, a, n: int, seed=0, offset: float = 0.0) -> np.ndarray:
    """n posterior draws of offset + a_cell * U (seed: an int or a numpy Generator)."""
    return _TruncatedMixture(post, a, offset, prune=0.0).sample(n, np.random.default_rng(seed))


def parameter_quantiles(values: np.ndarray, weight: np.ndarray, qs) -> np.ndarray:
    """Weighted quantiles of a per-cell quantity (e.g. log C_mid) under the cell weights."""
    order = np.argsort(values)
    cw = np.cumsum(weight[order])
    cw /= cw[-1]
    idx = np.searchsorted(cw, np.atleast_1d(qs), side="left")
    return values[order][np.minimum(idx, len(values) - 1)]
