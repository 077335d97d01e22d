"""rl.stop = "forecast" on constructed RL score streams: it stops after the curve has bent, not before the true
remaining gain (or marginal gain) is below the bound, and never on a curve that has not bent."""
import numpy as np
import pytest

from jaxpt.schedule.probes import Probe
from jaxpt.schedule.rl_stop import MIN_POINTS, ForecastStop, check_stop

E = 1e18


def _gain(x, U, C, B):
    x = np.asarray(x, float)
    return np.where(x > 0, U / (1 + (C / np.maximum(x, 1e-30)) ** B), 0.0)


def _stream(p_sft, U, C, B, xs, noise, seed):
    rng = np.random.default_rng(seed)
    y = p_sft + _gain(xs, U, C, B) + rng.normal(0, noise, len(xs)) * (np.asarray(xs) > 0)
    return [{"step": i, "rl_flops": float(x * E), "overall": float(v / 100)} for i, (x, v) in enumerate(zip(xs, y))]


def _first_stop(evals, gain_bound, rem_bound):
    hook = ForecastStop(100, 1e18, gain_bound, rem_bound, start_score=evals[0]["overall"])
    for e in evals[1:]:
        if hook(e["step"], {"rl_flops": e["rl_flops"], "accuracy": e["overall"]}):
            return e["rl_flops"] / E, hook
    return None, hook


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_remaining_gain_rule_stops_once_the_ceiling_is_reached_within_its_interval(seed):
    # U = 10, C = 5, B = 2: the true remaining gain U (1 - g) falls below 1 point where g = 0.9, i.e. at
    # x = C * 9^(1/B) = 15 EFLOPs (by hand).
    xs = np.arange(0.0, 41.0, 1.0)
    x_stop, hook = _first_stop(_stream(40.0, 10.0, 5.0, 2.0, xs, 0.3, seed), 0.0, 1.0)
    assert x_stop is not None and 15.0 <= x_stop <= 30.0, x_stop
    assert hook.checks[-1].stop and "remaining gain" in hook.checks[-1].reason
    assert all(not c.stop for c in hook.checks[:-1])


def test_gain_per_eflop_rule_waits_until_the_true_slope_is_below_the_bound():
    # dy/dx = U B g (1 - g) / x; with U = 10, C = 5, B = 2 it is 0.1 points per EFLOP at x ~ 16.1 EFLOPs
    # (solved by hand: 20 r / (x (1 + r)^2) = 0.1 with r = (5/x)^2; at x = 16.1, r = 0.0964).
    U, C, B, bound = 10.0, 5.0, 2.0, 0.1
    xs = np.arange(0.0, 61.0, 1.0)
    x_stop, hook = _first_stop(_stream(40.0, U, C, B, xs, 0.2, 7), bound, 0.0)
    r = (C / 16.1) ** B
    assert U * B * r / (16.1 * (1 + r) ** 2) == pytest.approx(bound, rel=0.01)
    assert x_stop is not None and 16.1 <= x_stop <= 40.0, x_stop
    assert "gain per EFLOP" in hook.checks[-1].reason


def test_a_curve_that_has_not_bent_is_never_stopped():
    xs = np.arange(0.0, 21.0, 1.0)  # C_mid = 100 EFLOPs: the stream ends at a fifth of it, still climbing
    x_stop, hook = _first_stop(_stream(40.0, 30.0, 100.0, 1.5, xs, 0.3, 3), 1e-3, 1.0)
    assert x_stop is None
    assert all(c.remaining[2] > 1.0 for c in hook.checks)


def test_no_stop_before_enough_points_even_when_the_bounds_hold():
    # A flat stream: after one point the intervals may already look closed; the rule waits for MIN_POINTS.
    p = Probe(100, 0.0, [0, 1], [0.0, 1e18], [0.40, 0.40])
    c = check_stop(p, 1e9, 1e9)
    assert not c.stop and "only 1 evaluations" in c.reason
    n = MIN_POINTS + 1
    flat = Probe(100, 0.0, list(range(n)), [i * E for i in range(n)], [0.40] * n)
    assert check_stop(flat, 1e9, 1e9).stop


def test_a_continued_probe_is_judged_with_the_probe_evaluations():
    # The probe already saw the whole bend; the continuation's first evaluation can stop it.
    xs = np.arange(0.0, 31.0, 1.0)
    evals = _stream(40.0, 10.0, 3.0, 2.0, xs, 0.2, 4)
    fresh = ForecastStop(100, 0.0, 0.0, 1.0, start_score=evals[0]["overall"])
    continued = ForecastStop(100, 0.0, 0.0, 1.0, history=evals[:-1])
    last = evals[-1]
    m = {"rl_flops": last["rl_flops"], "accuracy": last["overall"]}
    assert continued(last["step"], m) is True
    assert fresh(last["step"], m) is False  # one point: nothing to go on
