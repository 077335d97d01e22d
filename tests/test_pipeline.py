"""The pipeline end to end on the toy task with a tiny budget: outputs, per-set curves, every paradigm running
its own loss (read back from the run's records), resume after kill -9, and the study at matched compute."""
import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from jaxpt.analysis.curves import read_curves
from jaxpt.utils.metrics import read_metrics

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = {
    "model": {"overrides": {"hidden_size": 64, "intermediate_size": 176, "num_layers": 2}},
    "mesh": {"data": 1},
    "data": {"toy": {"num_val": 100}},
    "sft": {"total_steps": 60, "eval_every": 20, "score_every": 1},
    "rl": {"total_steps": 4, "eval_every": 2, "gen_prompts": 4, "train_prompts": 4, "checkpoint_every": 1},
    "eval": {"limit": 50},
    "log": {"progress": False, "tensorboard": False},
    "schedule": {"switch_mode": "step", "switch_step": 40},
}


def _flags(tree, prefix="--config."):
    out = []
    for k, v in tree.items():
        if isinstance(v, dict):
            out += _flags(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}={v}")
    return out


def _pipeline(tmp_path, name, *extra, resume=False):
    cmd = [sys.executable, "-m", "launch.pipeline", "--config=configs/default.py", f"--config.name={name}",
           f"--config.out_dir={tmp_path}", *_flags(SMALL), *extra] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout=900):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return out


def _summary(run):
    s = json.loads((run / "summary.json").read_text())
    s.pop("wall_s")
    return s


@pytest.mark.slow
def test_pipeline_end_to_end_and_resume_after_kill(tmp_path):
    _finish(_pipeline(tmp_path, "e2e"))
    run = tmp_path / "e2e"
    summary = json.loads((run / "summary.json").read_text())
    for key in ("P0", "P_sft", "P_post", "switch_step", "switch_regime", "A_post", "PL_rl", "wall_s", "paradigm",
                "rl_algorithm", "model", "benchmarks"):
        assert key in summary, key
    assert summary["switch_step"] == 40 and summary["branch_step"] == 40
    assert (summary["paradigm"], summary["rl_algorithm"], summary["model"]) == ("sequential", "grpo", "tiny-qwen")
    assert all(0.0 <= summary[k] <= 1.0 for k in ("P0", "P_sft", "P_post"))
    assert summary["benchmarks"]["toy"] == {"P0": summary["P0"], "P_sft": summary["P_sft"],
                                            "P_post": summary["P_post"], "problems": 50}
    for name in ("report.md", "val_loss.png", "score_vs_flops.png", "curves.csv", "prompt_format.json"):
        assert (run / name).is_file(), name
    report = (run / "report.md").read_text()
    assert "validation loss" in report and "| 40 |" in report and "user turn '{question}'" in report
    # Our curves file is read by the same analysis code as the authors' data, with a column per eval set.
    table = read_curves(run / "curves.csv", {"toy": 50})
    assert ("e2e", 40) in table.rl
    assert list(table.sft["e2e"].steps) == [0, 20, 40] and table.sft["e2e"].val_loss is not None
    rows = list(csv.DictReader(open(run / "curves.csv")))
    assert list(rows[0]) == ["file", "phase", "branch_sft_step", "x_eflops", "overall", "toy", "val_loss", "sft_step"]
    rl_rows = [r for r in rows if r["phase"] == "rl_relative"]
    assert len(rl_rows) == 3 and float(rl_rows[-1]["x_eflops"]) > 0  # RL evals at steps 0, 2, 4
    assert abs(float(rl_rows[-1]["toy"]) / 100 - summary["P_post"]) < 1e-6

    # Killed with SIGKILL during RL, then resumed: SFT is not redone, RL continues from its checkpoint, and the
    # summary is the uninterrupted run's.
    proc = _pipeline(tmp_path, "killed")
    ck = tmp_path / "killed" / "rl" / "checkpoints"
    deadline = time.time() + 600
    while not (ck.is_dir() and any(p.name == "2" for p in ck.iterdir())):
        assert proc.poll() is None and time.time() < deadline, "the run ended before RL step 2"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    sft_metrics = tmp_path / "killed" / "sft" / "metrics.jsonl"
    before = sft_metrics.stat().st_mtime_ns, sft_metrics.read_text()
    _finish(_pipeline(tmp_path, "killed", resume=True))
    assert (sft_metrics.stat().st_mtime_ns, sft_metrics.read_text()) == before  # SFT untouched
    steps = [r["step"] for r in read_metrics(tmp_path / "killed" / "rl" / "metrics.jsonl") if "rollout/accuracy" in r]
    assert steps == [1, 2, 3, 4]  # every RL step once
    assert _summary(tmp_path / "killed") == {**_summary(run), "name": "killed"}
    # A resume with another config is refused rather than mixed into the run.
    proc = _pipeline(tmp_path, "killed", "--config.rl.total_steps=6", resume=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "started with another config (rl.total_steps" in err


PARADIGM_RUN = {**SMALL, "sft": {"total_steps": 8, "eval_every": 4, "score_every": 1},
                "rl": {"total_steps": 1, "eval_every": 1, "gen_prompts": 2, "train_prompts": 2, "group_size": 3,
                       "max_new_tokens": 16, "checkpoint_every": 0},
                "eval": {"limit": 8, "max_new_tokens": 16}, "schedule": {"switch_mode": "step", "switch_step": 4}}


@pytest.mark.slow
@pytest.mark.parametrize("paradigm, rl_algorithm", [("pure_sft", "grpo"), ("pure_rl", "grpo"),
                                                    ("sequential", "dapo"), ("luffy", "grpo"), ("srft", "grpo"),
                                                    ("upt", "grpo")])
def test_paradigm_drives_the_run(tmp_path, paradigm, rl_algorithm):
    """schedule.paradigm / schedule.rl_algorithm pick what actually runs; checked from the run's own records."""
    from configs import default
    from jaxpt.config import merge, pipeline_config, validate
    from launch.pipeline import run as run_pipeline

    cfg = validate(merge(merge(pipeline_config(), default.get_config()), {
        **PARADIGM_RUN, "name": paradigm, "out_dir": str(tmp_path),
        "schedule": {**PARADIGM_RUN["schedule"], "paradigm": paradigm, "rl_algorithm": rl_algorithm}}))
    summary = run_pipeline(cfg)
    run = tmp_path / paradigm
    assert summary["paradigm"] == paradigm
    assert (run / "sft").is_dir() == (paradigm in ("pure_sft", "sequential"))
    assert (run / "rl").is_dir() == (paradigm != "pure_sft")
    if paradigm == "pure_sft":
        assert summary["rl_algorithm"] is None and summary["P_post"] == pytest.approx(
            json.loads((run / "pipeline_state.json").read_text())["sft"]["scores"]["8"]["overall"])
        return
    expected = {"luffy": "luffy", "srft": "srft", "upt": "upt"}.get(paradigm, rl_algorithm)
    assert summary["rl_algorithm"] == expected
    assert json.loads((run / "rl" / "config.json").read_text())["rl"]["algorithm"] == expected
    step = [m for m in read_metrics(run / "rl" / "metrics.jsonl") if "rollout/accuracy" in m][-1]
    if paradigm in ("luffy", "srft"):
        assert step["batch/expert_rows"] == 2  # one expert trajectory in each of the 2 groups
        assert ("train/off_prob" in step) == (paradigm == "luffy") and ("train/w_sft" in step) == (paradigm == "srft")
    else:
        assert step["batch/expert_rows"] == 0
    if paradigm == "upt":  # a random policy solves nothing: every prompt trains its expert trajectory with SFT
        assert step["batch/sft_rows"] == 2 and step["batch/onpolicy_rows"] == 0
    if paradigm == "sequential":  # DAPO: dynamic sampling rounds and clip-higher
        assert "ds/rounds" in step and json.loads((run / "rl" / "config.json").read_text())["rl"]["algorithm"] == "dapo"
    if paradigm in ("pure_rl", "luffy", "srft", "upt"):  # x_sft = 0: RL starts from the base model
        assert summary["P_sft"] == summary["P0"] and summary["branch_step"] is None


@pytest.mark.slow
def test_study_paradigms_at_matched_compute(tmp_path):
    """launch.study with paradigm_compute=match_flops: pure RL keeps going past rl.total_steps until it has
    used the sequential run's SFT + RL FLOPs (or hits the cap)."""
    cap = 24
    flags = _flags({**SMALL, "rl": {**SMALL["rl"], "checkpoint_every": 0}})
    out = subprocess.run([sys.executable, "-m", "launch.study", "--config=configs/study_paradigms.py",
                          "--config.name=par", f"--config.out_dir={tmp_path}", *flags,
                          "--config.paradigms=('pure_sft','sequential','pure_rl')",
                          f"--config.paradigm_max_steps={cap}"],
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    res = json.loads((tmp_path / "par" / "study.json").read_text())
    flops, final = res["flops_by_paradigm"], res["final_by_paradigm"]
    assert set(final) == {"pure_sft", "sequential", "pure_rl"}
    metrics = read_metrics(tmp_path / "par" / "uniform" / "paradigm_pure_rl" / "metrics.jsonl")
    steps = max(m.get("step", 0) for m in metrics)
    assert steps > 4  # ran past the sequential run's 4 RL steps: it also gets the SFT stage's FLOPs
    if steps < cap:  # stopped by the budget, at the first evaluation (every 2 steps) that reached it
        assert flops["pure_rl"] >= flops["sequential"]
        assert flops["pure_rl"] - flops["sequential"] <= 2.5 * flops["pure_rl"] / steps
    assert "match_flops" in (tmp_path / "par" / "study.md").read_text()
