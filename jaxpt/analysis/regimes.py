"""SFT regimes from the validation-loss curve (paper Eqs. 5-9), labelled retrospectively."""
from typing import List, Sequence

import numpy as np

REGIMES = ("adaptive", "stable", "mild", "severe")


def label_regimes(x: Sequence[float], val_loss: Sequence[float], delta: float = 0.02,
                  delta2: float = 0.1) -> List[str]:
    """Labels each evaluation of an SFT run as 'adaptive', 'stable', 'mild' or 'severe'.

    Args:
      x: training progress of each evaluation (steps, tokens or FLOPs; any increasing measure).
        Need not be sorted; labels come back in the input order.
      val_loss: validation loss at each x (token-mean NLL on held-out trajectories).
      delta: width of the stable band: T_s = {x : L(x) <= (1 + delta) L_min}, L_min the global minimum.
      delta2: boundary between mild and severe overfitting, as a fraction above L_min.

    Returns:
      One label per point:
      - 'adaptive' (underfitting): x < min T_s;
      - 'stable': min T_s <= x <= max T_s (points of T_s, and any brief excursion above the band
        between two stable points, which the paper's definitions leave unlabelled);
      - 'mild': x > max T_s and (1 + delta) L_min < L < (1 + delta2) L_min;
      - 'severe': x > max T_s and L >= (1 + delta2) L_min.

    This is the retrospective labelling: it needs the whole run because L_min is the global minimum.
    A pure function: no state, inputs are not modified.
    """
    x = np.asarray(x, dtype=float)
    loss = np.asarray(val_loss, dtype=float)
    if x.shape != loss.shape or x.ndim != 1:
        raise ValueError(f"x and val_loss must be 1-D of equal length, got {x.shape} and {loss.shape}")
    if len(x) == 0:
        return []
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(loss))):
        raise ValueError("x and val_loss must be finite")
    if not 0 <= delta < delta2:
        raise ValueError(f"need 0 <= delta < delta2, got delta={delta}, delta2={delta2}")
    l_min = loss.min()
    stable_band = (1.0 + delta) * l_min
    severe_from = (1.0 + delta2) * l_min
    in_ts = loss <= stable_band
    ts_lo, ts_hi = x[in_ts].min(), x[in_ts].max()
    labels = []
    for xi, li in zip(x, loss):
        if xi < ts_lo:
            labels.append("adaptive")
        elif xi <= ts_hi:
            labels.append("stable")
        elif li < severe_from:
            labels.append("mild")
        else:
            labels.append("severe")
    return labels
