"""The study's three branch rules on a constructed SFT run and RL branches: which branch each picks, its final
score, and the compute each spends, checked against hand-computed values."""
import numpy as np
import pytest

from jaxpt.pipeline import switch_rules as R

E = 1e18
# Validations every 100 SFT steps, 1 EFLOP each. The loss falls to its minimum at step 500 and rises:
# first stable point 700 (in the band, and the running minimum fell by less than 2% over the last 2
# validations: 1.00 -> 1.00; at 600 it had fallen 1.05 -> 1.00), mild overfitting confirmed at step 900
# (800 and 900 both in the (1.02, 1.10) band) -> the paper's rule branches at the minimum, 500.
LOSS = [3.0, 2.0, 1.5, 1.2, 1.05, 1.00, 1.005, 1.01, 1.03, 1.05, 1.06, 1.07, 1.08]
HISTORY = [(100 * i, 0, float(i) * E, loss) for i, loss in enumerate(LOSS)]
SCHEDULE = {"delta": 0.02, "delta2": 0.1, "patience": 2, "smoothing": 0.0, "probe_flops": 0.4 * E,
            "probe_every": 2, "probe_confidence": 0.8, "probe_patience": 1, "probe_target": "ceiling"}


def _branch(p_sft, U, C=0.1, B=2.0, n=40, x_max=2.0, seed=0):
    """Evaluations every x_max / n EFLOPs (every 2 RL steps), scores as fractions."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, x_max, n + 1)
    y = p_sft + np.where(x > 0, U / (1 + (C / np.maximum(x, 1e-30)) ** B), 0.0) + rng.normal(0, 0.1, n + 1) * (x > 0)
    return [{"step": 2 * i, "rl_flops": float(xi * E), "overall": float(v / 100)}
            for i, (xi, v) in enumerate(zip(x, y))]


# Ceilings (P_sft + U) by branch step: rising to step 1000, then falling. Final scores ~ the ceilings.
CEIL = {200: 20.0, 400: 35.0, 500: 40.0, 600: 45.0, 800: 52.0, 1000: 58.0, 1200: 56.0}
BRANCHES = {s: _branch(c - 6.0, 6.0, seed=s) for s, c in CEIL.items()}


def test_candidate_grid_is_every_second_validation_and_the_last_plus_extras():
    assert R.candidate_steps(HISTORY, 2, [500]) == [200, 400, 500, 600, 800, 1000, 1200]
    assert R.candidate_steps(HISTORY[:12], 2) == [200, 400, 600, 800, 1000, 1100]


def test_exhaustive_takes_the_best_final_and_pays_for_everything():
    out = R.exhaustive(HISTORY, BRANCHES)
    assert out["branch_step"] == 1000
    assert out["flops"] == pytest.approx(12 * E + 7 * 2.0 * E)  # the whole SFT run + 7 branches of 2 EFLOPs


def test_min_val_rule_branches_at_the_minimum_and_pays_sft_to_the_detection():
    out = R.min_val(HISTORY, BRANCHES, SCHEDULE)
    assert (out["branch_step"], out["sft_stop_step"]) == (500, 900)
    assert out["final"] == BRANCHES[500][-1]["overall"]
    assert out["flops"] == pytest.approx(9 * E + 2.0 * E)


def test_forecast_rule_probes_from_stable_on_and_stops_when_the_newest_does_not_win():
    # Candidates: stable from step 700; every 2nd validation (even index) -> 800, 1000, 1200. Probes see
    # 0.4 EFLOPs: 8 evaluations, past the bend (C_mid = 0.1). 1000 (58) beats 800 (52); 1200 (56) does not
    # beat 1000: SFT stops at 1200, RL continues from 1000.
    out = R.forecast(HISTORY, BRANCHES, SCHEDULE, rl_total_steps=80, n_problems=0)
    assert out["probed"] == [800, 1000, 1200]
    assert out["sft_stop_step"] == 1200 and out["branch_step"] == 1000
    assert [v["continue_sft"] for v in out["verdicts"]] == [True, True, False]
    assert out["final"] == BRANCHES[1000][-1]["overall"]
    # Compute by hand: SFT to 1200 (12 EFLOPs) + the two other probes (0.4 each) + the full branch (2).
    assert out["probe_flops"] == pytest.approx(3 * 0.4 * E)
    assert out["flops"] == pytest.approx(12 * E + 2 * 0.4 * E + 2.0 * E)


def test_forecast_rule_reports_a_candidate_without_a_branch():
    partial = {s: b for s, b in BRANCHES.items() if s != 1000}
    assert R.forecast(HISTORY, partial, SCHEDULE, 40, 500) == {"rule": "forecast", "missing_branch": 1000}


def test_budget_replay_plans_rl_to_the_budget_and_matches_the_oracle_at_that_budget():
    # Budget 11.5 EFLOPs, judged at the score the budget buys (horizon). Candidate 800 (probe 0.4): reaching
    # 1000 costs 10 + 0.4 + its probe 0.4, plus 0.4 beyond = 11.2 <= 11.5, so SFT goes on; after 1000 the next
    # candidate (12 EFLOPs of SFT) is out of reach: stop. Branch 1000 then gets RL x = 0.4 + (11.5 - 10.8) =
    # 1.1 EFLOPs; branch 800 at 1.1 would end near its 52-point ceiling, 1000 near 58.
    schedule = {**SCHEDULE, "probe_target": "horizon", "budget_flops": 11.5 * E}
    out = R.forecast(HISTORY, BRANCHES, schedule, rl_total_steps=80, n_problems=0)
    assert out["probed"] == [800, 1000] and out["branch_step"] == 1000
    assert "budget leaves no room" in out["reason"]
    assert out["plan"]["rl_flops"] == pytest.approx(1.1 * E)
    # RL stops at the first evaluation reaching 1.1 EFLOPs (every 0.05): 1.1 itself; all of the budget is used.
    assert out["flops"] == pytest.approx(11.5 * E)
    assert out["final"] == [e for e in BRANCHES[1000] if e["rl_flops"] >= 1.1 * E - 1][0]["overall"]
    oracle = R.best_at_budget(HISTORY, BRANCHES, 11.5 * E)
    assert oracle["branch_step"] == 1000 and abs(oracle["final"] - out["final"]) < 0.005
    # A budget below the SFT run's first candidate plus RL leaves the oracle the earlier branches only.
    assert R.best_at_budget(HISTORY, BRANCHES, 3.0 * E)["branch_step"] == 200
