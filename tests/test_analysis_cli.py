"""launch.fit end to end on a small slice of the authors' data, and malformed-input errors."""
import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest

from jaxpt.analysis.curves import CurveFormatError, read_curves

REPO = pathlib.Path(__file__).resolve().parents[1]
SLICE = {"general_flops2valPerform_sft_dict.pkl", "general_step2flops2valPerform_dapo_ckpt14080.pkl",
         "easy102K_flops2valPerform_sft_dict.pkl", "easy102K_step2flops2valPerform_dapo_ckpt360.pkl"}


def _write_slice(shared_dir, tmp_path):
    retu = shared_dir / "data" / "retu"
    with open(retu / "curves.csv") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["file"] in SLICE]
        fields = reader.fieldnames + ["val_loss"]
    for r in rows:  # a synthetic U-shaped validation loss on the SFT rows (as our pipeline writes)
        x = float(r["x_eflops"])
        r["val_loss"] = f"{0.5 + 0.2 * (x / 700.0 - 1.0) ** 2:.4f}" if r["phase"] == "sft" else ""
    curves = tmp_path / "curves.csv"
    with open(curves, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    settings = [e for e in json.loads((retu / "fit_settings.json").read_text())
                if (e["scene"], e["ckpt"]) in {("general", 14080), ("easy102K", 360)}]
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    return curves, tmp_path / "settings.json"


def test_cli_end_to_end(shared_dir, tmp_path):
    curves, settings = _write_slice(shared_dir, tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "launch.fit", f"--curves={curves}", f"--settings={settings}", f"--out={out}",
         "--interval=bootstrap", "--n_boot=20"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "ceilings.json").read_text())
    assert {(r["scene"], r["sft_step"]) for r in res} == {("general", 14080), ("easy102K", 360)}
    required = {"scene", "sft_step", "P_sft", "PL_rl", "A_post", "C_mid", "B", "c0", "identified",
                "PL_rl_interval", "A_post_interval", "val_rmse", "train_r2", "n_outliers", "n_trimmed",
                "observed_max", "headline", "headline_label", "U_unconstrained", "A_post_unconstrained",
                "regime"}
    for r in res:
        assert required <= set(r)
        assert r["interval_method"] == "bootstrap"
        lo, hi = r["A_post_interval"]
        assert lo <= r["A_post"] <= hi <= 100.0
        assert r["regime"] in ("adaptive", "stable", "mild", "severe")
        assert (out / f"{r['scene']}_ckpt{r['sft_step']}.png").stat().st_size > 1000
    general = next(r for r in res if r["scene"] == "general")
    assert general["A_post"] == pytest.approx(83.95, abs=0.2)
    assert general["regime"] == "severe"  # x = 1365.8 EFLOPs sits far past the loss minimum at 700
    md = (out / "ceilings.md").read_text()
    assert "| scene |" in md and "general" in md and "Trajectory selection" in md
    # The scene paragraph names the regime of the branch point (the synthetic loss is known here).
    assert "**general.** step 14080, severe: P_sft 76.20, PL_rl 7.75, A_post 83.95." in md
    assert "Highest identified A_post: step 14080 (83.95)." in md
    sel = json.loads((out / "selection.json").read_text())
    assert [n for n, _ in sel["ranking"]][0] in ("general", "easy102K")


def _csv(tmp_path, text):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


HEADER = "file,phase,branch_sft_step,x_eflops,overall,gsm8k,math\n"


def test_non_numeric_field_names_file_line_and_field(tmp_path):
    p = _csv(tmp_path, HEADER + "a_sft.pkl,sft,,0,50,60,40\n" + "a_rl_ckpt0.pkl,rl_relative,0,1.5,50,abc,40\n")
    with pytest.raises(CurveFormatError) as e:
        read_curves(p)
    msg = str(e.value)
    assert "bad.csv" in msg and "line 3" in msg and "'gsm8k'" in msg and "abc" in msg


def test_missing_column_and_bad_phase(tmp_path):
    p = _csv(tmp_path, "file,phase,branch_sft_step,overall,gsm8k\na.pkl,sft,,50,60\n")
    with pytest.raises(CurveFormatError, match=r"line 1.*x_eflops"):
        read_curves(p)
    p = _csv(tmp_path, HEADER + "a_sft.pkl,pretrain,,0,50,60,40\n")
    with pytest.raises(CurveFormatError, match=r"line 2, field 'phase'"):
        read_curves(p)
    p = _csv(tmp_path, HEADER + "a_rl.pkl,rl_relative,,1.0,50,60,40\n")
    with pytest.raises(CurveFormatError, match=r"line 2, field 'branch_sft_step'"):
        read_curves(p)


def test_overall_is_recomputed_with_public_counts(tmp_path):
    p = _csv(tmp_path, HEADER + "a_sft.pkl,sft,,0,99.9,60,40\n")
    table = read_curves(p)
    # gsm8k 1319 and math 500 problems: (60 * 1319 + 40 * 500) / 1819, rounded to 2 decimals.
    assert table.sft["a"].overall[0] == round((60 * 1319 + 40 * 500) / 1819, 2)
