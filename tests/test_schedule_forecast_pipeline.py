"""switch_mode = "forecast" through the whole pipeline on the tiny toy config: SFT stops at candidates, each is
probed, RL continues the chosen probe's run (not a new one), the stop rule is asked at every RL evaluation,
every decision is logged and drawn, and a resumed run replays the decisions to the same summary."""
import json
import os
import subprocess
import sys

import pytest

from jaxpt.schedule.decision_log import read_decisions
from tests.test_pipeline import REPO, SMALL, _flags

FORECAST = {
    # The tiny model's loss is still falling fast at 60 steps: a wide stable band makes steps 40 and 60
    # candidates (the running minimum fell by less than 50% over two validations from step 40 on).
    "schedule": {"switch_mode": "forecast", "probe_flops": 1.0, "probe_every": 1, "delta": 0.5, "delta2": 0.9},
    "rl": {"stop": "forecast", "stop_remaining": 0.5},
}


def _run(tmp_path, *extra):
    tree = {**SMALL, "schedule": FORECAST["schedule"], "rl": {**SMALL["rl"], **FORECAST["rl"]}}
    cmd = [sys.executable, "-m", "launch.pipeline", "--config=configs/default.py", "--config.name=fc",
           f"--config.out_dir={tmp_path}", *_flags(tree), *extra]
    p = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr[-4000:]
    s = json.loads((tmp_path / "fc" / "summary.json").read_text())
    s.pop("wall_s")
    return s


@pytest.mark.slow
def test_forecast_mode_probes_continues_the_best_probe_and_logs_every_decision(tmp_path):
    summary = _run(tmp_path)
    run = tmp_path / "fc"
    recs = read_decisions(run)
    probes = [r for r in recs if r["kind"] == "probe"]
    switch = [r for r in recs if r["kind"] == "switch"]
    checks = [r for r in recs if r["kind"] == "rl_check"]
    # Candidates 40 and 60 were probed in order; the last SFT step ends SFT (no more steps).
    assert [r["step"] for r in probes] == [40, 60]
    assert probes[-1]["verdict"]["continue_sft"] is False and len(switch) == 1
    branch = summary["branch_step"]
    assert branch == switch[0]["branch_step"] == probes[-1]["verdict"]["best_step"] and branch in (40, 60)
    assert summary["switch_mode"] == "forecast" and summary["forecast"]["probed_steps"] == [40, 60]
    # Each probe stopped at its first evaluation past the branch point (probe_flops = 1 FLOP).
    state = json.loads((run / "pipeline_state.json").read_text())
    for step in (40, 60):
        assert [e["step"] for e in state["probes"][str(step)]["evals"]] == [0, 2]
    # RL continued the chosen probe's own run: its evaluations start with the probe's, then go on.
    rl_dir = run / f"rl_{branch}"
    rl_evals = [json.loads(line) for line in (rl_dir / "metrics.jsonl").read_text().splitlines()
                if "eval/accuracy" in json.loads(line)]
    assert [e["step"] for e in rl_evals] == [0, 2, 4]
    probe_acc = [e["overall"] for e in state["probes"][str(branch)]["evals"]]
    assert [e["eval/accuracy"] for e in rl_evals][:2] == probe_acc
    assert not (run / "rl").exists()  # no fresh RL run from the branch point
    # The stop rule saw the continuation's evaluation, with the probe's points in its forecast.
    assert [c["step"] for c in checks] == [4] and checks[0]["forecast"]["n_points"] == 2
    # Compute: the SFT run, the other probe, the RL branch (its probe included).
    other = next(s for s in (40, 60) if s != branch)
    other_flops = state["probes"][str(other)]["evals"][-1]["rl_flops"]
    assert summary["probe_flops"] == pytest.approx(other_flops)
    assert summary["total_flops"] == pytest.approx(summary["sft_flops"] + other_flops + summary["rl_flops"])
    report = (run / "report.md").read_text()
    assert "## Forecast decisions" in report and "### RL stop rule" in report
    assert (run / "forecast_probes.png").is_file() and (run / "rl_stop.png").is_file()
    # A resume of the finished run replays the decisions from the ledger: same summary, no new records.
    n_lines = len((run / "decisions.jsonl").read_text().splitlines())
    assert _run(tmp_path, "--resume") == summary
    assert len((run / "decisions.jsonl").read_text().splitlines()) == n_lines
