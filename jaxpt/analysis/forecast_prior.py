"""Priors on an RL gain curve (C_mid, B, U) and on evaluation noise, learned from other branches.

A prefix of a branch that has not bent yet says little about where it will bend; finished branches
of the same kind of run do. The prior is a Student-t on log C_mid and on log B (heavy tails, so a
branch unlike the others can still override it), centred on the median of reference fits with a
MAD-based scale; when enough references come from the same SFT run, also a Student-t on U (see
`from_fits`). The noise prior is the median residual sd of the same fits, worth a few points.

The branch being forecast must not be among the references (nothing may be fitted to its own final
answer): `SigmoidPrior.from_fits(..., exclude=...)` leaves it out.
The prior is in the caller's compute unit: references in EFLOPs make a prior for x in EFLOPs.
"""
import dataclasses
import math
from typing import Iterable, Optional, Sequence

import numpy as np
from scipy.special import gammaln

from jaxpt.analysis.forecast_posterior import NoisePrior
from jaxpt.analysis.sigmoid import sigmoid

PRIOR_DF = 4.0  # tails of the shape prior: heavy enough that ~2 sd away is still plausible
MIN_SCALE = 0.3  # floor of the log-space scales: a handful of alike references is not certainty
MIN_U_SCALE = 1.0  # score points: floor of the scale of the prior on U, for the same reason
NOISE_NU0 = 3.0  # the pooled noise sd counts as this many pseudo-points
B_RANGE = (0.2, 10.0)  # steepness range of the grid (appendix F caps B at 10)


def _t_logpdf(v, mu, s, df):
    z = (v - mu) / s
    return (gammaln((df + 1) / 2) - gammaln(df / 2) - 0.5 * math.log(df * math.pi) - math.log(s)
            - (df + 1) / 2 * np.log1p(z * z / df))


def _robust_center_scale(v, floor=MIN_SCALE):
    v = np.asarray(v, float)
    med = float(np.median(v))
    mad = 1.4826 * float(np.median(np.abs(v - med)))
    return med, max(mad, floor)


@dataclasses.dataclass(frozen=True)
class SigmoidPrior:
    """log C_mid ~ t(df, c_mu, c_scale); log B ~ t(df, b_mu, b_scale); U ~ t(df, u_mu, u_scale);
    noise sd ~ noise_sd with noise_nu0 pseudo-points.

    c_mu None means no shape prior (flat in log C_mid and log B over the grid); u_mu None means a
    flat prior on U up to the physical limit A_post = 100. `flat()` drops both: the data alone.
    """
    c_mu: Optional[float] = None
    c_scale: float = 1.0
    b_mu: float = 0.0
    b_scale: float = 1.0
    u_mu: Optional[float] = None  # None: flat prior on U up to the physical limit
    u_scale: float = 1.0
    df: float = PRIOR_DF
    noise_sd: float = 0.5
    noise_nu0: float = 1.0
    n_refs: int = 0

    @property
    def informative(self) -> bool:
        return self.c_mu is not None

    def log_density(self, log_c: np.ndarray, log_b: np.ndarray) -> np.ndarray:
        if not self.informative:
            return np.zeros_like(log_c)
        return (_t_logpdf(log_c, self.c_mu, self.c_scale, self.df)
                + _t_logpdf(log_b, self.b_mu, self.b_scale, self.df))

    def noise(self) -> NoisePrior:
        return NoisePrior(self.noise_sd, self.noise_nu0)

    def flat(self) -> "SigmoidPrior":
        """The same noise prior without a shape prior: what the branch's own data say."""
        return dataclasses.replace(self, c_mu=None, u_mu=None)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if self.informative:
            d["C_mid_median"] = math.exp(self.c_mu)
            d["B_median"] = math.exp(self.b_mu)
        return d

    @classmethod
    def weak(cls, noise_sd: float = 0.5) -> "SigmoidPrior":
        """No references: flat shape prior, noise sd of about half a score point (one pseudo-point)."""
        return cls(noise_sd=noise_sd, noise_nu0=1.0)

    @classmethod
    def from_params(cls, c_mids: Sequence[float], bs: Sequence[float], us: Sequence[float],
                    noise_sds: Optional[Sequence[float]] = None) -> "SigmoidPrior":
        """From the fitted C_mid, B and U (= PL_rl) of finished (identified) reference branches."""
        c = np.asarray(c_mids, float)
        b = np.asarray(bs, float)
        u = np.asarray(us, float)
        ok = np.isfinite(c) & np.isfinite(b) & np.isfinite(u) & (c > 0) & (b > 0)
        if ok.sum() < 2:
            raise ValueError(f"need at least 2 reference fits for a prior, got {int(ok.sum())}")
        c_mu, c_scale = _robust_center_scale(np.log(c[ok]))
        b_mu, b_scale = _robust_center_scale(np.log(np.clip(b[ok], *B_RANGE)))
        u_mu, u_scale = _robust_center_scale(u[ok], MIN_U_SCALE)
        noise_sd, nu0 = 0.5, 1.0
        if noise_sds is not None:
            s = np.asarray(noise_sds, float)
            s = s[np.isfinite(s) & (s > 0)]
            if len(s):
                noise_sd, nu0 = float(np.median(s)), NOISE_NU0
        return cls(c_mu, c_scale, b_mu, b_scale, u_mu, u_scale, PRIOR_DF, noise_sd, nu0, int(ok.sum()))

    @classmethod
    def from_fits(cls, fits: Iterable[dict], exclude: Iterable = (), group: Optional[str] = None,
                  min_group: int = 3, u_prior: bool = True) -> "SigmoidPrior":
        """From result dicts of `jaxpt.analysis.ceilings.fit_curves` (keys scene, sft_step, C_mid, B, U,
        identified, method, and optionally points for the noise level). Only identified sigmoid fits
        count; branches whose (scene, sft_step) is in `exclude` are left out.

        group: the target's group (`branch_group`). When at least min_group references share it, only
        they shape the prior, and they also give a prior on U: branches of one SFT run under one RL
        recipe bend alike and gain alike. Otherwise every reference shapes the prior (the RL recipe
        sets the bend more than the data set does) and U keeps a flat prior, since how much RL gains
        depends on the SFT run and does not carry over from other runs.
        """
        skip = {(str(s), int(k)) for s, k in exclude}
        refs = [r for r in fits if (str(r["scene"]), int(r["sft_step"])) not in skip
                and r.get("identified") and r.get("method", "sigmoid") == "sigmoid"]
        same = [r for r in refs if group is not None and branch_group(r) == group]
        use_group = len(same) >= min_group
        if use_group:
            refs = same
        prior = cls.from_params([r["C_mid"] for r in refs], [r["B"] for r in refs],
                                [r["U"] for r in refs], [_residual_sd(r) for r in refs])
        return prior if (u_prior and use_group) else dataclasses.replace(prior, u_mu=None)


    @classmethod
    def from_curves(cls, curves_csv, settings_json=None, **kw) -> "SigmoidPrior":
        """Fits every branch of a curves CSV with `fit_curves` (launch.fit's fitter) and builds the prior
        from those fits; keyword arguments go to `from_fits` (exclude, group, min_group, u_prior)."""
        from jaxpt.analysis.ceilings import fit_curves

        return cls.from_fits(fit_curves(curves_csv, settings_json), **kw)


def branch_group(r: dict) -> str:
    """Which branches are alike: those of one SFT run (scene); Pure-RL branches (step 0) form their own."""
    return "pure_rl" if int(r["sft_step"]) == 0 else str(r["scene"])


def _residual_sd(r: dict) -> float:
    """Residual sd of a fit's training points (from its "points" record), nan when absent."""
    pts = r.get("points")
    if not pts:
        return float("nan")
    role = np.asarray(pts["role"])
    x = np.asarray(pts["x"], float)[role == "train"]
    y = np.asarray(pts["y"], float)[role == "train"]
    keep = x > 0
    if keep.sum() < 5:
        return float("nan")
    resid = y[keep] - sigmoid(x[keep], r["U"], r["C_mid"], r["B"], r.get("c0") or 0.0)
    return float(np.sqrt(np.mean(resid ** 2) * keep.sum() / (keep.sum() - 3)))
