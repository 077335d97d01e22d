"""SFT regime labels (paper Eqs. 5-9) on constructed loss curves, labels worked out by hand."""
import pytest

from jaxpt.analysis.regimes import label_regimes


def test_all_four_regimes():
    # L_min = 1.0: stable band L <= 1.02 at x = 4, 5, 6; mild band (1.02, 1.1); severe from 1.1.
    x = list(range(1, 11))
    loss = [2.0, 1.5, 1.2, 1.01, 1.0, 1.015, 1.05, 1.08, 1.12, 1.3]
    assert label_regimes(x, loss) == ["adaptive"] * 3 + ["stable"] * 3 + ["mild", "mild", "severe", "severe"]


def test_band_edges_excursions_and_order():
    # Exactly (1 + delta) L_min is stable, exactly (1 + delta2) L_min is severe; a bump between two
    # stable points stays stable; labels follow the input order even when x is unsorted.
    x = [5, 1, 2, 3, 4, 6]
    loss = [1.1, 1.5, 1.0, 1.05, 1.02, 1.06]
    assert label_regimes(x, loss) == ["severe", "adaptive", "stable", "stable", "stable", "mild"]


def test_parameters_and_errors():
    x, loss = [1, 2, 3], [1.0, 1.04, 1.2]
    assert label_regimes(x, loss) == ["stable", "mild", "severe"]
    assert label_regimes(x, loss, delta=0.05, delta2=0.3) == ["stable", "stable", "mild"]
    assert label_regimes([], []) == []
    with pytest.raises(ValueError):
        label_regimes([1, 2], [1.0])
    with pytest.raises(ValueError):
        label_regimes([1, 2], [1.0, float("nan")])
