"""Forecast priors from other branches, backtest summaries, and launch.forecast end to end."""
import csv
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from jaxpt.analysis.forecast_backtest import summarize
from jaxpt.analysis.forecast_prior import MIN_SCALE, SigmoidPrior

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_prior_from_params_is_median_and_scaled_mad():
    c = [5.0, 10.0, 20.0, 40.0, 80.0]  # log-symmetric around 20: MAD of logs = log 2
    p = SigmoidPrior.from_params(c, [1.5] * 5, [2.0, 4.0, 6.0, 8.0, 10.0], [0.3, 0.5, 0.4, 0.6, 0.2])
    assert p.c_mu == pytest.approx(math.log(20.0))
    assert p.c_scale == pytest.approx(1.4826 * math.log(2.0))
    assert p.b_mu == pytest.approx(math.log(1.5)) and p.b_scale == MIN_SCALE  # identical B: the floor
    assert p.u_mu == pytest.approx(6.0) and p.u_scale == pytest.approx(1.4826 * 2.0)
    assert p.noise_sd == pytest.approx(0.4)
    with pytest.raises(ValueError):
        SigmoidPrior.from_params([5.0], [1.0], [2.0])


def _fit(scene, step, C, B, U, identified=True, method="sigmoid"):
    return {"scene": scene, "sft_step": step, "C_mid": C, "B": B, "U": U, "c0": 0.0,
            "identified": identified, "method": method}


def test_prior_from_fits_leaves_the_target_out_and_prefers_its_group():
    fits = [_fit("a", 1, 10.0, 1.0, 5.0), _fit("a", 2, 20.0, 2.0, 6.0), _fit("a", 3, 40.0, 4.0, 7.0),
            _fit("a", 4, 1000.0, 9.0, 90.0),  # the target: its own answer must not shape its prior
            _fit("b", 1, 3.0, 0.5, 1.0), _fit("b", 2, 3.0, 0.5, 1.0),
            _fit("a", 5, 1e6, 0.3, 100.0, identified=False)]  # not identified: never a reference
    p = SigmoidPrior.from_fits(fits, exclude=[("a", 4)], group="a")
    assert p.c_mu == pytest.approx(math.log(20.0)) and p.b_mu == pytest.approx(math.log(2.0))
    assert p.u_mu == pytest.approx(6.0)  # three of its group: they give a prior on U too
    # too few of its group: every other branch shapes the prior, and U stays flat
    q = SigmoidPrior.from_fits(fits, exclude=[("b", 1), ("a", 4)], group="b")
    assert q.n_refs == 4 and q.u_mu is None
    assert q.c_mu == pytest.approx(float(np.median(np.log([10.0, 20.0, 40.0, 3.0]))))


def test_summary_by_hand():
    def row(f, err, cov, full_id=True):
        return {"fraction": f, "A_post_full": 80.0, "error": err, "covered": cov, "identified": False,
                "full_identified": full_id, "full_method": "sigmoid"}
    rows = [row(0.5, 0.2, True), row(0.5, -1.0, True), row(0.5, 6.0, False), row(0.5, -0.4, False),
            row(0.5, 30.0, False, full_id=False)]
    s = summarize(rows, "identified")[0.5]
    assert s["n"] == 4 and s["median_abs_error"] == pytest.approx(0.7)
    assert s["coverage"] == pytest.approx(0.5) and s["n_covered"] == 2 and s["n_with_interval"] == 4
    assert s["n_far_off"] == 1
    assert summarize(rows)[0.5]["n"] == 5 and summarize(rows)[0.5]["n_far_off"] == 2


# Synthetic authors'-format curves: one SFT run ("general", 34.92 EFLOPs per 360 steps) and four RL
# branches with known sigmoids.
TRUE = {360: (6.0, 10.0, 1.6), 720: (7.0, 12.0, 1.4), 1080: (5.0, 9.0, 2.0), 1440: (6.5, 14.0, 1.5)}
SFT_SCORE = {0: 50.0, 360: 70.0, 720: 72.0, 1080: 73.0, 1440: 73.5}


def _write_curves(tmp_path):
    rng = np.random.default_rng(0)
    rows = [["file", "phase", "branch_sft_step", "x_eflops", "overall", "gsm8k"]]
    for step, score in SFT_SCORE.items():
        rows.append(["general_flops2valPerform_sft_dict.pkl", "sft", "", f"{step * 34.92 / 360:.4f}", "",
                     f"{score:.2f}"])
    xs = {}
    for step, (U, C, B) in TRUE.items():
        x = np.round(np.linspace(3.0, 100.0, 30), 2)
        y = SFT_SCORE[step] + U / (1 + (C / x) ** B) + rng.normal(0, 0.25, len(x))
        xs[step] = x
        rows += [[f"general_step2flops2valPerform_dapo_ckpt{step}.pkl", "rl_relative", str(step), f"{a}", "",
                  f"{b:.2f}"] for a, b in zip(x, y)]
    curves = tmp_path / "curves.csv"
    with open(curves, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    settings = [{"scene": "general", "sft_scene": "general", "ckpt": s, "fit_points_num": 31, "use_lts": False,
                 "outlier_threshold": 2.5, "free_c0": False} for s in TRUE]
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    return curves, tmp_path / "settings.json", xs


def test_launch_forecast_end_to_end(tmp_path):
    curves, settings, xs = _write_curves(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "launch.forecast", f"--curves={curves}", f"--settings={settings}", f"--out={out}"],
        cwd=REPO, env=dict(os.environ, MPLBACKEND="Agg"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((out / "backtest.json").read_text())
    assert {(r["sft_step"], r["fraction"]) for r in rows} == {(s, f) for s in TRUE for f in (0.25, 0.5, 0.75)}
    covered = 0
    for r in rows:
        assert {"scene", "sft_step", "fraction", "A_post_forecast", "A_post_interval", "identified"} <= set(r)
        lo, hi = r["A_post_interval"]
        assert lo <= r["A_post_forecast"] <= hi <= 100.0
        x = xs[r["sft_step"]]
        assert r["n_prefix_points"] == int((x <= r["fraction"] * x.max()).sum())
        truth = SFT_SCORE[r["sft_step"]] + TRUE[r["sft_step"]][0]
        assert r["A_post_full"] == pytest.approx(truth, abs=0.8)  # the reference recovers the truth
        covered += lo <= truth <= hi
        assert "baseline_A_post" in r
    assert covered >= 10  # of 12 forecasts at a 95% level
    md = (out / "backtest.md").read_text()
    assert "| 0.5 | 4 | forecast |" in md and "Per branch at f = 0.5" in md
    assert (out / "backtest_error.png").stat().st_size > 1000
