"""decisions.jsonl and the report section drawn from it, on decisions made from synthetic probes."""
import json

import numpy as np

from jaxpt.pipeline.decision_report import decision_section
from jaxpt.schedule.decision_log import DecisionLog, predicted_band, probe_record, read_decisions
from jaxpt.schedule.forecast_switch import ForecastSwitch
from jaxpt.schedule.probes import Probe
from jaxpt.schedule.rl_stop import check_stop

E = 1e18


def _probe(step, p_sft, U, C=1.0, B=2.0, n=20, x_max=5.0, noise=0.2):
    x = np.linspace(0.0, x_max, n + 1)
    y = p_sft + np.where(x > 0, U / (1 + (C / np.maximum(x, 1e-30)) ** B), 0.0)
    y = y + np.random.default_rng(step).normal(0, noise, n + 1) * (x > 0)
    return Probe(step, step * 1e16, list(range(n + 1)), list(x * E), list(y / 100))


def _decide(tmp_path):
    fs = ForecastSwitch(probe_flops=5 * E, target="horizon", rl_total_steps=40, budget_flops=0.0)
    log = DecisionLog(tmp_path)
    for step, p in ((200, 40.0), (400, 48.0), (600, 48.2)):
        probe = _probe(step, p, 8.0)
        v = fs.add(probe)
        log.write("probe", step, probe_record(probe, fs.forecasts[step], v, fs.horizon(probe)))
    log.write("switch", "sft", {"branch_step": fs.best_step(), "reason": "test", "spent_flops": fs.spent(),
                                "probes": [200, 400, 600], "plan": None})
    c = check_stop(_probe(fs.best_step(), 48.0, 8.0, n=30, x_max=30.0), 0.0, 1.0)
    log.write("rl_check", c.step, c.as_dict())
    return fs


def test_log_records_every_decision_once_and_a_replay_adds_nothing(tmp_path):
    fs = _decide(tmp_path)
    recs = read_decisions(tmp_path)
    assert [r["kind"] for r in recs] == ["probe", "probe", "probe", "switch", "rl_check"]
    first = recs[0]
    assert first["probe"]["step"] == 200 and first["verdict"]["continue_sft"] is True
    assert first["forecast"]["P_sft"] == 40.0 and "posterior" not in first["forecast"]
    # The band starts at the branch point and reaches the compute the candidate was judged at (40 steps).
    # ... out to rl.total_steps (40) at the probe's FLOPs a step
    assert first["band"]["x_flops"][0] == 0.0 and first["band"]["x_flops"][-1] == 40 * (5 * E / 20)
    text = (tmp_path / "decisions.jsonl").read_text()
    _decide(tmp_path)  # the same decisions again (a resumed run replays them)
    assert (tmp_path / "decisions.jsonl").read_text() == text
    assert all(json.loads(line) for line in text.splitlines())
    assert fs.best_step() in (400, 600)


def test_predicted_band_is_the_forecast_curve():
    fs = ForecastSwitch(probe_flops=5 * E, target="ceiling")
    fs.add(_probe(200, 40.0, 8.0))
    band = predicted_band(fs.forecasts[200], 10 * E, n=10)
    # A probe past its bend (noise 0.2): the band follows the true curve 40 + 8 / (1 + (1/x)^2) and holds it.
    x = np.asarray(band["x_flops"][1:]) / E
    truth = 40 + 8 / (1 + (1 / x) ** 2)
    assert np.allclose(band["median"][1:], truth, atol=0.4)
    assert all(lo <= t <= hi for lo, t, hi in zip(band["lo"][1:], truth, band["hi"][1:]))
    assert band["median"][0] == band["lo"][0] == band["hi"][0] == 40.0  # the branch point itself


def test_report_section_tables_and_plots(tmp_path):
    _decide(tmp_path)
    lines = decision_section(tmp_path, 0.0, 1.0)
    text = "\n".join(lines)
    assert "## Forecast decisions" in text and "### RL stop rule" in text
    assert text.count("| 200 |") == 1 and "| 400 |" in text and "| 600 |" in text
    assert (tmp_path / "forecast_probes.png").stat().st_size > 1000
    assert (tmp_path / "rl_stop.png").stat().st_size > 1000
    assert decision_section(tmp_path / "nothing") == []
