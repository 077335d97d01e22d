"""Trajectory selection: ranking by min validation loss and its correlation with best ceilings."""
import math

import numpy as np
import pytest

from jaxpt.analysis.ceilings import trajectory_selection
from jaxpt.analysis.correlate import correlate, rank_datasets


def test_rank_datasets():
    assert rank_datasets({"a": 0.5, "b": 0.3, "c": 0.4, "d": 0.3}) == [
        ("b", 0.3), ("d", 0.3), ("c", 0.4), ("a", 0.5)]
    with pytest.raises(ValueError):
        rank_datasets({"a": float("nan")})


def test_correlate_pairs_by_name():
    losses = {"general": 0.40, "easy": 0.55, "hard": 0.45, "s1k": 0.60}
    ceil = {"general": 84.0, "easy": 77.0, "hard": 80.0, "s1k": 76.5, "extra": 99.0}
    c = correlate(losses, ceil)
    assert c["n"] == 4 and c["datasets"] == ["easy", "general", "hard", "s1k"]
    a = np.array([0.55, 0.40, 0.45, 0.60])
    b = np.array([77.0, 84.0, 80.0, 76.5])
    assert c["pearson_r"] == pytest.approx(np.corrcoef(a, b)[0, 1])
    assert c["spearman_rho"] == pytest.approx(-1.0)
    assert math.isnan(correlate([1.0, 2.0], [3.0, 1.0])["pearson_r"])  # undefined with 2 points


def test_trajectory_selection_skips_pure_rl_and_uses_headlines():
    def row(scene, step, a, ident=True, unconstrained=None):
        return {"scene": scene, "sft_step": step, "A_post": a, "identified": ident, "method": "sigmoid",
                "headline": "sigmoid" if ident else "constrained",
                "A_post_unconstrained": a if unconstrained is None else unconstrained}
    # e's branch is not identified: its headline is the constrained 79.0, never the unconstrained 170.
    results = [row("g", 0, 90.0), row("g", 100, 84.0), row("e", 100, 79.0, ident=False, unconstrained=170.0),
               row("h", 100, 80.0)]
    sel = trajectory_selection(results, {"g": 0.4, "e": 0.5, "h": 0.45})
    assert sel["best_ceilings"] == {"g": 84.0, "e": 79.0, "h": 80.0}
    assert [n for n, _ in sel["ranking"]] == ["g", "h", "e"]
    assert sel["correlation"]["pearson_r"] < -0.9
