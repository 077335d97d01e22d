"""Switch decisions of the scheduler on constructed validation-loss curves (hand-computed expectations)."""
import numpy as np
import pytest

from jaxpt.analysis.regimes import label_regimes
from jaxpt.schedule.detector import RegimeDetector
from jaxpt.schedule.scheduler import Scheduler, paradigm

# Eval every 100 steps. Falls, plateaus around 1.00, then rises: 1.03 (mild band 1.02..1.10), 1.05, 1.12.
U_CURVE = [2.0, 1.5, 1.2, 1.05, 1.01, 1.00, 1.005, 1.03, 1.05, 1.12, 1.2]
STEPS = [100 * (i + 1) for i in range(len(U_CURVE))]


def _feed(sched, curve, steps=STEPS):
    for s, l in zip(steps, curve):
        d = sched.on_sft_eval(s, l)
        if d.switch:
            return s, d
    return None, sched.finish_sft()


def test_mild_switch_branches_from_minimum():
    sched = Scheduler("sequential", switch_mode="mild", patience=2)
    at, d = _feed(sched, U_CURVE)
    # 1.03 at step 800 is the first point in the mild band, 1.05 at 900 the second: confirmed at 900.
    assert at == 900 and d.regime == "mild"
    assert d.branch_step == 600  # minimum 1.00 at step 600
    assert sched.objective() == "rl"
    # The retrospective labels agree that step 900 is mild and 600 stable.
    labels = dict(zip(STEPS, label_regimes(STEPS, U_CURVE)))
    assert labels[900] == "mild" and labels[600] == "stable" and labels[100] == "adaptive"


def test_stable_switch_at_first_plateau_point():
    sched = Scheduler("sequential", switch_mode="stable", patience=2)
    at, d = _feed(sched, U_CURVE)
    # Running minima: 2, 1.5, 1.2, 1.05, 1.01, 1.00. At step 600 the minimum fell 1.05 -> 1.00 over two
    # evaluations (4.8% > 2%): still falling. At 700 (1.005, in band) it fell 1.01 -> 1.00 (1%): plateau.
    assert at == 700 and d.branch_step == 700 and d.regime == "stable"


def test_severe_jump_switches_in_mild_mode():
    curve = [2.0, 1.2, 1.0, 1.0, 1.3]
    sched = Scheduler("sequential", switch_mode="mild", patience=3)
    at, d = _feed(sched, curve)
    assert at == 500 and d.regime == "severe" and d.branch_step == 300


def test_noisy_plateau_does_not_switch_on_single_excursions():
    rng = np.random.RandomState(0)
    base = [3.0, 2.0, 1.5, 1.2] + [1.0] * 16
    # Noise of +-1.5%: single points above the 2% band happen, never two in a row at patience 2 (checked).
    noise = [0, 0, 0, 0] + list(rng.uniform(-0.015, 0.015, 16))
    curve = [b * (1 + n) for b, n in zip(base, noise)]
    curve[10] = curve[9] * 1.04  # one clear excursion into the mild band
    sched = Scheduler("sequential", switch_mode="mild", patience=2)
    steps = [100 * (i + 1) for i in range(len(curve))]
    at, d = _feed(sched, curve, steps)
    assert at is None, f"switched at {at}"
    # The run ended without overfitting: branch from the best checkpoint, flagged as such.
    assert d.switch and d.branch_step == steps[int(np.argmin(curve))]
    assert "exhausted" in d.reason


def test_never_overfitting_curve_branches_from_last_best():
    curve = list(np.linspace(2.0, 1.0, 12))  # monotone decrease
    sched = Scheduler("sequential", switch_mode="mild")
    at, d = _feed(sched, curve, [10 * (i + 1) for i in range(12)])
    assert at is None and d.branch_step == 120


def test_smoothing_damps_noise():
    det_raw = RegimeDetector(patience=1, smoothing=0.0)
    det_ema = RegimeDetector(patience=1, smoothing=0.7)
    curve = [2.0, 1.0, 1.0, 1.0, 1.05, 1.0, 1.0]
    raw = [det_raw.update(i, l).regime for i, l in enumerate(curve)]
    ema = [det_ema.update(i, l).regime for i, l in enumerate(curve)]
    assert raw[4] == "mild"  # 1.05 is 5% above the minimum
    assert ema[4] != "mild"  # smoothed: 1.0 * 0.7 + 1.05 * 0.3 = 1.015, inside the 2% band


def test_fixed_step_and_flops_modes():
    sched = Scheduler("sequential", switch_mode="step", switch_step=300)
    at, d = _feed(sched, U_CURVE)
    assert at == 300 and d.branch_step == 300
    sched = Scheduler("sequential", switch_mode="flops", switch_flops=5e15)
    for i, (s, l) in enumerate(zip(STEPS, U_CURVE)):
        d = sched.on_sft_eval(s, l, sft_flops=1e15 * (i + 1))
        if d.switch:
            break
    assert s == 500 and d.branch_step == 500


def test_paradigms():
    assert Scheduler("pure_sft").objective() == "sft"
    sched = Scheduler("pure_sft")
    assert not any(sched.on_sft_eval(s, l).switch for s, l in zip(STEPS, U_CURVE))
    assert Scheduler("pure_rl").objective() == "rl"
    for name in ("luffy", "srft", "upt"):
        p = paradigm(name)
        assert p.synchronized and not p.sft and p.rl == name
        assert Scheduler(name).objective() == "rl"
    with pytest.raises(ValueError, match="unknown paradigm"):
        paradigm("sft_then_nothing")
    with pytest.raises(ValueError, match="needs switch_step"):
        Scheduler(switch_mode="step")
