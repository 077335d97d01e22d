"""Trajectory selection: rank SFT data sets by minimum validation loss, and test that ranking against
the best post-training ceiling each data set reached (the paper: Pearson r = -0.92 on Qwen2.5-7B)."""
from typing import Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np
from scipy import stats

Values = Union[Mapping[str, float], Sequence[float]]


def rank_datasets(min_losses: Mapping[str, float]) -> List[Tuple[str, float]]:
    """Candidate SFT data sets best first: lowest minimum validation loss first (ties by name)."""
    for name, v in min_losses.items():
        if not np.isfinite(v):
            raise ValueError(f"data set {name!r}: minimum validation loss {v} is not finite")
    return sorted(((n, float(v)) for n, v in min_losses.items()), key=lambda t: (t[1], t[0]))


def _paired(a: Values, b: Values) -> Tuple[List[str], np.ndarray, np.ndarray]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise TypeError("pass two mappings keyed by data set, or two sequences in the same order")
    if isinstance(a, Mapping):
        names = sorted(set(a) & set(b))
        return names, np.array([a[n] for n in names], float), np.array([b[n] for n in names], float)
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.shape} vs {b.shape}")
    return [str(i) for i in range(len(a))], a, b


def correlate(min_losses: Values, best_ceilings: Values) -> Dict[str, object]:
    """Pearson and Spearman correlation of min validation loss against best A_post across data sets.

    Mappings are paired by data-set name (only names in both count). Coefficients are nan with fewer
    than 3 data sets or a constant input, where they are undefined.
    """
    names, a, b = _paired(min_losses, best_ceilings)
    out = {"datasets": names, "n": len(names), "pearson_r": float("nan"), "pearson_p": float("nan"),
           "spearman_rho": float("nan"), "spearman_p": float("nan")}
    if len(names) >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0:
        r, p = stats.pearsonr(a, b)
        rho, sp = stats.spearmanr(a, b)
        out.update(pearson_r=float(r), pearson_p=float(p), spearman_rho=float(rho), spearman_p=float(sp))
    return out
