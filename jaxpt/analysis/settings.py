"""Per-branch fit settings: the authors' fit_settings.json format, a default, and the search grid."""
import dataclasses
import itertools
import json
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """How one branch is split and fitted (section 2 of docs/algorithms.md).

    fit_points_num: training = the first N points (ignored when train_split is given); None = default
    fraction of the points. train_split / val_split: index windows [a, b). val_most: validation runs
    from the end of training up to this index when val_split is absent.
    """
    fit_points_num: Optional[int] = None
    use_lts: bool = False
    lts_alpha: float = 0.75
    outlier_threshold: float = 2.5
    train_split: Optional[Tuple[int, int]] = None
    val_split: Optional[Tuple[int, int]] = None
    free_c0: bool = False
    val_most: int = 100
    sft_scene: Optional[str] = None

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("train_split", "val_split"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d


DEFAULT_TRAIN_FRACTION = 0.7  # without settings: fit the first 70%, validate on the rest


def _int_or(v, default):
    if v is None or v == "auto":
        return default
    return int(v)


def settings_from_dict(d: dict) -> FitSettings:
    split = lambda v: None if v is None else (int(v[0]), int(v[1]))  # noqa: E731
    return FitSettings(
        fit_points_num=_int_or(d.get("fit_points_num"), None),
        use_lts=bool(d.get("use_lts", False)),
        lts_alpha=float(d.get("lts_alpha", 0.75)),
        outlier_threshold=float(d.get("outlier_threshold", 2.5)),
        train_split=split(d.get("train_split")),
        val_split=split(d.get("val_split")),
        free_c0=bool(d.get("free_c0", False)),
        val_most=_int_or(d.get("val_most"), 100),
        sft_scene=d.get("sft_scene"),
    )


def load_fit_settings(path) -> Dict[Tuple[str, int], FitSettings]:
    """{(scene, ckpt): FitSettings} from a fit_settings.json list (keys scene, ckpt, ...)."""
    with open(path) as fh:
        entries = json.load(fh)
    if isinstance(entries, dict):  # also accept {"scene/ckpt": {...}} style maps
        entries = list(entries.values())
    out = {}
    for i, e in enumerate(entries):
        try:
            key = (str(e["scene"]), int(e["ckpt"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: entry {i} lacks a valid scene/ckpt ({err})") from None
        out[key] = settings_from_dict(e)
    return out


def split_indices(n: int, s: FitSettings) -> Tuple[np.ndarray, np.ndarray]:
    """Training and validation index arrays over n sorted points.

    training = train_split [a, b) if given, else the first fit_points_num points (default 70%);
    validation = val_split if given, else from the end of training up to val_most; both clipped to n.
    """
    if s.train_split is not None:
        a, b = s.train_split
    else:
        a = 0
        b = s.fit_points_num if s.fit_points_num is not None else int(np.ceil(DEFAULT_TRAIN_FRACTION * n))
    a, b = max(0, min(a, n)), max(0, min(b, n))
    if s.val_split is not None:
        va, vb = s.val_split
    else:
        va, vb = b, s.val_most
    va, vb = max(0, min(va, n)), max(0, min(vb, n))
    return np.arange(a, b), np.arange(va, vb)


def search_grid(n_points: int, fractions=(0.5, 0.6, 0.7, 0.8), taus=(2.5, 3.0, 4.0),
                lts=((False, 0.75), (True, 0.75), (True, 0.85)), free_c0=(False,),
                min_val: int = 3) -> List[FitSettings]:
    """Candidate settings for the selection-score search; every candidate keeps >= min_val validation points."""
    nums = sorted({int(round(f * n_points)) for f in fractions})
    nums = [k for k in nums if k >= 5 and n_points - k >= min_val]
    return [FitSettings(fit_points_num=k, use_lts=u, lts_alpha=a, outlier_threshold=t, free_c0=c)
            for k, t, (u, a), c in itertools.product(nums, taus, lts, free_c0)]
