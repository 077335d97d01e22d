"""The forecast switch on constructed streams: which candidates are probed, when SFT stops, which branch RL
continues from, and the budget plan against a hand-computed optimum. No training: probes are synthetic
curves (a sigmoid written out here, independently of the library)."""
import numpy as np
import pytest

from jaxpt.schedule.budget import plan_budget, rl_compute
from jaxpt.schedule.forecast_switch import ForecastSwitch
from jaxpt.schedule.probes import Probe, forecast_probe, prob_greater, target_of
from jaxpt.schedule.scheduler import Scheduler

E = 1e18  # FLOPs per EFLOP


def _gain(x, U, C, B):
    x = np.asarray(x, float)
    return np.where(x > 0, U / (1.0 + (C / np.maximum(x, 1e-30)) ** B), 0.0)


def _probe(step, p_sft, U, C, B, x_max, n=10, noise=0.0, seed=0, sft_flops=None):
    """A probe of n evaluations after the branch point, evenly spaced up to x_max EFLOPs (scores as fractions)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, x_max, n + 1)
    pts = p_sft + _gain(x, U, C, B) + rng.normal(0, noise, len(x)) * (x > 0)
    return Probe(step, float(sft_flops if sft_flops is not None else step * 1e16), list(range(0, 2 * n + 1, 2)),
                 list(x * E), list(pts / 100.0))


def test_probe_prefix_is_what_the_flops_hook_sees():
    p = Probe(400, 4e12, [0, 5, 10, 15], [0.0, 1e11, 2.1e11, 3e11], [0.40, 0.41, 0.43, 0.44])
    # run_rl's hook stops at the first evaluation whose cumulative RL FLOPs reach the budget.
    assert p.prefix(2e11).rl_steps == [0, 5, 10]
    assert p.prefix(1e11).rl_steps == [0, 5]
    assert p.prefix(1e13).rl_steps == [0, 5, 10, 15]
    assert p.p_sft == 0.40 and p.flops == 3e11 and p.flops_per_step == 2e10


def _switch(**kw):
    args = dict(probe_flops=1.0, probe_every=1, confidence=0.8, patience=1, target="ceiling")
    args.update(kw)
    return ForecastSwitch(**args)


# Candidates every 100 SFT steps whose ceilings rise by 6 points, then stall (+0.2), then fall: with
# evaluations dense past the bend (noise 0.2) each forecast is sharp, so the comparisons are clear-cut.
CEILINGS = [(100, 40.0), (200, 46.0), (300, 52.0), (400, 52.2), (500, 45.0)]


def _ceiling_probe(step, a_post, seed):
    p_sft = a_post - 8.0
    return _probe(step, p_sft, 8.0, 2.0, 2.0, 12.0, n=12, noise=0.2, seed=seed)


def test_sft_goes_on_while_candidates_beat_the_best_and_stops_at_the_first_that_does_not():
    fs = _switch()
    verdicts = [fs.add(_ceiling_probe(s, a, i)) for i, (s, a) in enumerate(CEILINGS[:4])]
    assert [v.continue_sft for v in verdicts] == [True, True, True, False]
    assert verdicts[0].p_better is None and verdicts[1].p_better > 0.99 and verdicts[2].p_better > 0.99
    # 52.2 vs 52.0 is within the forecasts' uncertainty: no clear win, SFT stops; the best is still judged
    # by the medians, whichever of the two that is.
    assert 0.2 < verdicts[3].p_better < 0.8
    assert verdicts[3].previous_best == 300 and verdicts[3].best_step in (300, 400)
    for v, (s, a) in zip(verdicts, CEILINGS):
        assert abs(v.targets[s].median - a) < 0.5  # the target is the ceiling A_post here


def test_patience_lets_sft_pass_one_candidate_that_does_not_beat_the_best():
    fs = _switch(patience=2)
    verdicts = [fs.add(_ceiling_probe(s, a, i)) for i, (s, a) in enumerate(CEILINGS)]
    assert [v.continue_sft for v in verdicts] == [True, True, True, True, False]
    assert [v.misses for v in verdicts] == [0, 0, 0, 1, 2]
    assert verdicts[-1].best_step in (300, 400) and verdicts[-1].p_better < 0.01


def test_horizon_target_judges_the_score_at_the_end_of_rl_not_the_ceiling():
    # Candidate 200 has the higher ceiling (60 vs 55) but bends late; at the end of rl.total_steps of RL
    # (40 steps at the probes' 0.25 EFLOPs per step = 10 EFLOPs) it is behind: by hand,
    # 50 + 10 / (1 + (20/10)^3) = 51.11 against 45 + 10 / (1 + (2/10)^2) = 54.62.
    early = _probe(100, 45.0, 10.0, 2.0, 2.0, 5.0, n=10, noise=0.1, seed=1)
    late = _probe(200, 50.0, 10.0, 20.0, 3.0, 5.0, n=10, noise=0.1, seed=2)
    assert early.flops_per_step == pytest.approx(0.25 * E)
    fh = _switch(target="horizon", rl_total_steps=40)
    fh.add(early)
    v = fh.add(late)
    assert v.targets[100].x_flops == pytest.approx(10 * E)
    assert v.targets[100].median == pytest.approx(54.62, abs=0.3)
    assert v.targets[200].median < v.targets[100].median and v.best_step == 100
    assert not v.continue_sft and v.p_better < 0.2
    # At the ceiling the late candidate is ahead: the target, not the data, made the difference.
    fc = _switch(target="ceiling")
    fc.add(early)
    assert fc.add(late).best_step == 200


def test_candidates_start_at_the_first_stable_point_every_probe_every_validation():
    fs = ForecastSwitch(probe_flops=1e11, probe_every=2)
    sched = Scheduler("sequential", switch_mode="forecast", patience=2, forecast=fs)
    # Falls, plateaus from step 600 (first stable at 700: see test_schedule_switch), rises later.
    curve = [2.0, 1.5, 1.2, 1.05, 1.01, 1.00, 1.005, 1.03, 1.05, 1.12, 1.2]
    probed = []
    for i, loss in enumerate(curve):
        step = 100 * (i + 1)
        d = sched.on_sft_eval(step, loss, step * 1e10)
        assert not d.switch
        if d.probe:
            probed.append(step)
    # Validation index i (step 100 (i + 1)); candidates: stable seen and i even -> steps 700, 900, 1100.
    assert probed == [700, 900, 1100]


def test_scheduler_switches_to_the_best_probe_and_falls_back_when_sft_runs_out():
    fs = _switch()
    sched = Scheduler("sequential", switch_mode="forecast", forecast=fs)
    for (s, a), seed in zip(CEILINGS[:3], range(3)):
        d = sched.on_probe(_ceiling_probe(s, a, seed))
        assert not d.switch
    d = sched.on_probe(_ceiling_probe(*CEILINGS[3], 3), final=True)
    assert d.switch and d.branch_step in (300, 400) and sched.objective() == "rl"
    # SFT that ends with the candidates still improving: RL from the best probed candidate.
    fs2 = _switch()
    sched2 = Scheduler("sequential", switch_mode="forecast", forecast=fs2)
    for (s, a), seed in zip(CEILINGS[:2], range(2)):
        sched2.on_probe(_ceiling_probe(s, a, seed))
    d2 = sched2.finish_sft()
    assert d2.switch and d2.branch_step == 200
    with pytest.raises(ValueError):
        Scheduler("sequential", switch_mode="forecast")  # forecast mode without its switch


def test_prob_greater_is_one_half_for_identical_branches_and_orders_separated_ones():
    a = _probe(100, 40.0, 8.0, 2.0, 2.0, 12.0, n=12, noise=0.2, seed=5)
    b = _probe(200, 40.0, 8.0, 2.0, 2.0, 12.0, n=12, noise=0.2, seed=5)
    fa, fb = forecast_probe(a), forecast_probe(b)
    ta, tb = target_of(fa, "ceiling"), target_of(fb, "ceiling")
    assert abs(prob_greater(fa, ta, fb, tb, seed=1) - 0.5) < 0.05
    c = _probe(300, 45.0, 8.0, 2.0, 2.0, 12.0, n=12, noise=0.2, seed=5)
    fc = forecast_probe(c)
    assert prob_greater(fc, target_of(fc, "ceiling"), fa, ta) > 0.99


# ------------------------------------------------------------------------------------------- budget
# Three candidates (step, SFT EFLOPs, P_sft, U, C_mid, B), each probed for 4 EFLOPs of RL: a slow one with
# the highest ceiling (200: 60), a fast one with the highest P_sft (300), and one worse at every budget.
CANDS = [(100, 10.0, 40.0, 12.0, 1.0, 1.5),
         (200, 20.0, 44.0, 16.0, 3.5, 3.0),
         (300, 30.0, 55.0, 3.0, 1.0, 2.0)]
PROBE_X = 4.0
SPENT = 30.0 + 3 * PROBE_X  # SFT to the last candidate + every probe: 42 EFLOPs


class _Exact:
    """A forecast that knows its curve: the planner's arithmetic alone is under test."""

    def __init__(self, p, U, C, B):
        self.args = (p, U, C, B)

    def predict(self, x):
        from jaxpt.analysis.forecast import Band

        p, U, C, B = self.args
        v = p + _gain(x, U, C, B)
        return Band(v, v, v)


def _budget_probes():
    return [_probe(s, p, U, C, B, PROBE_X, n=12, noise=0.05, seed=s, sft_flops=f * E) for s, f, p, U, C, B in CANDS]


# Budget 42.5 EFLOPs leaves each branch x = 4 + 42.5 - 42 = 4.5 EFLOPs of RL; by hand:
#   100: 40 + 12 / (1 + (1/4.5)^1.5) = 50.86;  200: 44 + 16 / (1 + (3.5/4.5)^3) = 54.88;
#   300: 55 + 3 / (1 + (1/4.5)^2) = 57.86.
# Budget 62 leaves x = 24:  100: 51.90;  200: 44 + 16 / (1 + (3.5/24)^3) = 59.95;  300: 57.99.
HAND = {42.5: (300, {100: 50.86, 200: 54.88, 300: 57.86}), 62.0: (200, {100: 51.90, 200: 59.95, 300: 57.99})}


@pytest.mark.parametrize("budget", sorted(HAND))
def test_budget_plan_matches_the_hand_computed_optimum(budget):
    expected, scores = HAND[budget]
    probes = _budget_probes()
    exact = {s: _Exact(p, U, C, B) for s, _, p, U, C, B in CANDS}
    plan = plan_budget(probes, exact, budget * E, SPENT * E)
    assert plan.choice.step == expected  # neither always the highest ceiling (200) nor the highest P_sft (300)
    for o in plan.options:
        assert o.rl_flops == pytest.approx((PROBE_X + budget - SPENT) * E)
        assert o.predicted.median == pytest.approx(scores[o.step], abs=0.01)
    assert plan.total_flops == pytest.approx(budget * E)  # every FLOP of the budget is planned


def test_budget_plan_on_real_forecasts_of_the_probes():
    # Just past the probes the forecasts pin the curves, and the plan is the hand-computed one.
    probes = _budget_probes()
    plan = plan_budget(probes, {p.step: forecast_probe(p) for p in probes}, 42.5 * E, SPENT * E)
    assert plan.choice.step == 300
    for o in plan.options:
        assert o.predicted.median == pytest.approx(HAND[42.5][1][o.step], abs=0.3)
        assert o.predicted.lo <= HAND[42.5][1][o.step] <= o.predicted.hi


def test_rl_compute_is_the_probe_plus_what_is_left_capped():
    assert rl_compute(100.0, 60.0, 5.0) == 45.0
    assert rl_compute(100.0, 60.0, 5.0, cap=20.0) == 20.0
    assert rl_compute(100.0, 120.0, 5.0) == 5.0  # over budget: the probe is what the branch has


def test_budget_forces_a_probe_and_a_switch_before_it_runs_out():
    # SFT costs 1 EFLOP per 100 steps, probes 0.5 EFLOP; budget 8 EFLOPs. Before any stable point the switch
    # must still leave room: a candidate whose next validation plus a probe and RL as long again would
    # exceed the budget is probed now, and SFT stops after it.
    fs = ForecastSwitch(probe_flops=0.5 * E, probe_every=1, target="horizon", budget_flops=8.0 * E,
                        rl_total_steps=1000)
    forced = []
    for step in range(100, 900, 100):
        if fs.is_candidate(step, step / 100 * E, stable_seen=False):
            forced.append(step)
            break
    # After step 600 (6 EFLOPs), the next validation (7) + probe (0.5) + as long again (0.5) = 8 fits; after
    # step 700 it would be 8 + 1 > 8: probe step 700.
    assert forced == [700]
    v = fs.add(_probe(700, 40.0, 10.0, 0.5, 1.5, 0.5, n=5, noise=0.1, sft_flops=7 * E))
    assert not v.continue_sft and "budget" in v.reason
    assert v.plan.choice.step == 700 and v.plan.choice.rl_flops == pytest.approx(1.0 * E)


def test_candidates_start_after_an_early_minimum_the_online_detector_never_calls_stable():
    """The toy 'easy' variant: the loss bottoms out at the first validation and jumps past the Severe band at
    the next, so no plateau is ever confirmed online. Its RL branches kept improving up to step 1000; the
    candidates must start once the fast fall is over (the first Severe point), not never."""
    fs = ForecastSwitch(probe_flops=1e11, probe_every=2)
    sched = Scheduler("sequential", switch_mode="forecast", patience=2, forecast=fs)
    curve = [3.45, 1.20, 1.42, 1.60, 1.83, 2.09]  # steps 0, 100, ..., 500 (validation indices 0-5)
    probed = [100 * i for i, loss in enumerate(curve) if sched.on_sft_eval(100 * i, loss, 1e10 * i).probe]
    assert sched.detector.first_stable_step is None and sched.detector.settled_step == 200
    assert probed == [200, 400]
