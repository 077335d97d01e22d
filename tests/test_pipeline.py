"""The default pipeline end to end on a smaller config (the CLI `make run` uses, with overrides)."""
import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest

from jaxpt.analysis.curves import read_curves

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = [
    "--config.sft.model.overrides.hidden_size=64", "--config.sft.model.overrides.intermediate_size=176",
    "--config.sft.model.overrides.num_layers=2", "--config.sft.train.total_steps=60",
    "--config.sft.eval.every=20", "--config.sft.data.toy_num_val=100", "--config.sft.log.progress=False",
    "--config.rl.rl.total_steps=4", "--config.rl.eval.every=2", "--config.rl.rl.gen_prompts=4",
    "--config.rl.rl.train_prompts=4",
    "--config.rl.log.progress=False", "--config.eval.num_problems=50", "--config.eval.sft_score_every=1",
]


@pytest.mark.slow
def test_pipeline_end_to_end(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "launch.pipeline", "--config=configs/default.py",
                          "--config.name=e2e", f"--config.out_dir={tmp_path}", "--config.schedule.switch_mode=step",
                          "--config.schedule.switch_step=40", *SMALL],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    run = tmp_path / "e2e"
    summary = json.loads((run / "summary.json").read_text())
    for key in ("P0", "P_sft", "switch_step", "switch_regime", "P_post", "A_post", "PL_rl", "wall_s"):
        assert key in summary
    assert summary["switch_step"] == 40 and summary["branch_step"] == 40
    assert all(0.0 <= summary[k] <= 1.0 for k in ("P0", "P_sft", "P_post"))
    for name in ("report.md", "val_loss.png", "score_vs_flops.png", "curves.csv"):
        assert (run / name).is_file(), name
    report = (run / "report.md").read_text()
    assert "validation loss" in report and "| 40 |" in report
    # Our curves file is read by the same analysis code as the authors' data.
    table = read_curves(run / "curves.csv", {"toy": 1.0})
    assert ("uniform", 40) in table.rl
    sft = table.sft["uniform"]
    assert list(sft.steps) == [0, 20, 40] and sft.val_loss is not None
    rows = list(csv.DictReader(open(run / "curves.csv")))
    rl_rows = [r for r in rows if r["phase"] == "rl_relative"]
    assert len(rl_rows) == 3 and float(rl_rows[-1]["x_eflops"]) > 0  # RL evals at steps 0, 2, 4
    assert abs(float(rl_rows[-1]["overall"]) / 100 - summary["P_post"]) < 1e-6


@pytest.mark.slow
def test_study_paradigms_at_matched_compute(tmp_path):
    """launch.study with paradigm_compute=match_flops: pure RL keeps going past rl.total_steps until it has
    used the sequential run's SFT + RL FLOPs (or hits the cap)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cap = 24
    out = subprocess.run([sys.executable, "-m", "launch.study", "--config=configs/study_paradigms.py",
                          "--config.name=par", f"--config.out_dir={tmp_path}", "--config.schedule.switch_mode=step",
                          "--config.schedule.switch_step=40", "--config.sft.data.toy_num_val=100", *SMALL,
                          "--config.rl.eval.every=2", "--config.paradigms=('pure_sft','sequential','pure_rl')",
                          f"--config.paradigm_max_steps={cap}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    res = json.loads((tmp_path / "par" / "study.json").read_text())
    flops, final = res["flops_by_paradigm"], res["final_by_paradigm"]
    assert set(final) == {"pure_sft", "sequential", "pure_rl"}
    metrics = [json.loads(x) for x in open(tmp_path / "par" / "uniform" / "paradigm_pure_rl" / "metrics.jsonl")]
    steps = max(m.get("step", 0) for m in metrics)
    assert steps > 4  # ran past the sequential run's 4 RL steps: it also gets the SFT stage's FLOPs
    if steps < cap:  # stopped by the budget, at the first evaluation (every 2 steps) that reached it
        assert flops["pure_rl"] >= flops["sequential"]
        assert flops["pure_rl"] - flops["sequential"] <= 2.5 * flops["pure_rl"] / steps
    assert "match_flops" in (tmp_path / "par" / "study.md").read_text()
