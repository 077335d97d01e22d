"""The study's finding checks on hand-made numbers."""
from jaxpt.pipeline import findings as F
from jaxpt.pipeline.study import scene_ceilings


def test_paradigm_finding():
    f = F.paradigm_finding({"sequential": 0.60, "pure_sft": 0.45, "pure_rl": 0.02, "luffy": 0.40}, noise=0.05)
    assert f["holds"] is True and "luffy 0.400 (sequential +0.200)" in f["detail"]
    f = F.paradigm_finding({"sequential": 0.60, "pure_sft": 0.58}, noise=0.05)
    assert f["holds"] is False  # a 2-point win is inside the noise


def test_switch_finding_counts_near_ties():
    rows = [{"scene": "a", "sft_step": 100, "regime": "adaptive", "ceiling": 0.50},
            {"scene": "a", "sft_step": 300, "regime": "stable", "ceiling": 0.49},
            {"scene": "a", "sft_step": 600, "regime": "severe", "ceiling": 0.30}]
    assert F.switch_finding(rows, noise=0.02)["holds"] is True
    assert F.switch_finding(rows, noise=0.0)["holds"] is False


def test_scale_and_correlation_findings():
    ceil = {"easy": 0.50, "uniform": 0.52, "hard": 0.49, "general": 0.70}
    f = F.scale_finding(ceil, "general", ["easy", "uniform", "hard"])
    assert f["holds"] is True and "scale gain +0.180, difficulty spread 0.030" in f["detail"]
    losses = {"easy": 0.30, "uniform": 0.28, "hard": 0.31, "general": 0.20}
    c = F.correlation_finding(losses, ceil)
    assert c["holds"] is True and c["correlation"]["pearson_r"] < -0.9
    assert F.correlation_finding({"a": 1.0}, {"a": 0.5})["holds"] is None


def test_noise_and_ceiling_helpers():
    assert abs(F.binomial_noise(0.5, 500) - 2 * (2 * 0.25 / 500) ** 0.5) < 1e-12
    assert F.ceiling_of({"method": "sigmoid", "identified": True, "A_post": 61.0}, 0.55) == 0.61
    assert F.ceiling_of({"method": "sigmoid", "identified": False, "A_post": 99.0}, 0.55) == 0.55
    rows = [{"scene": "a", "ceiling": 0.3}, {"scene": "a", "ceiling": 0.4}, {"scene": "b", "ceiling": None}]
    assert scene_ceilings(rows) == {"a": 0.4}


def test_switch_finding_needs_branches_in_two_regimes():
    one = [{"scene": "uniform", "sft_step": 600, "regime": "stable", "ceiling": 0.45}]
    res = F.switch_finding(one, noise=0.05)
    assert res["holds"] is None and "only stable" in res["detail"]
    two = one + [{"scene": "uniform", "sft_step": 1400, "regime": "severe", "ceiling": 0.58}]
    assert F.switch_finding(two, noise=0.05)["holds"] is False
