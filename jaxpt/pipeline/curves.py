"""Every evaluation of a run as rows of the authors' curves.csv format, so jaxpt.analysis fits our runs and
the paper's data alike: file, phase, branch_sft_step, x_eflops, overall, one column per evaluation set (in
percent), then val_loss and sft_step on SFT rows.

phase "sft": the SFT curve (x = cumulative SFT EFLOPs); phase "rl_relative": an RL branch started at SFT step
branch_sft_step (x = RL EFLOPs from the branch point; 0 = from the base model).
"""
import csv
import pathlib
from typing import Dict, List, Optional, Sequence

HEAD = ("file", "phase", "branch_sft_step", "x_eflops", "overall")
TAIL = ("val_loss", "sft_step")


def scene_label(name: str) -> str:
    """The curve's scene (the file name up to its first '_' in the authors' format)."""
    return str(name).replace("_", "-") or "run"


def _scores(score: dict, sets: Sequence[str]) -> dict:
    row = {"overall": f"{100 * score['overall']:.3f}"}
    for name in sets:
        v = score["per"].get(name)
        row[name] = "" if v is None else f"{100 * v:.3f}"
    return row


def curve_rows(scene: str, sets: Sequence[str], p0: dict, sft=None, branches: Optional[Dict[int, object]] = None
               ) -> List[dict]:
    """sft: the pipeline's SFTStage (None without SFT); branches: SFT step (0 = base model) -> RLResult."""
    file = f"{scene_label(scene)}_pipeline"
    rows = []
    if sft is not None:
        for step, _, flops, loss in sft.history:
            score = p0 if int(step) == 0 else sft.scores.get(int(step))
            if score is None:
                continue
            rows.append({"file": file, "phase": "sft", "branch_sft_step": "", "x_eflops": f"{flops / 1e18:.6g}",
                         **_scores(score, sets), "val_loss": f"{loss:.6f}", "sft_step": int(step)})
    else:
        rows.append({"file": file, "phase": "sft", "branch_sft_step": "", "x_eflops": "0", **_scores(p0, sets),
                     "val_loss": "", "sft_step": 0})
    for branch_step, rl in (branches or {}).items():
        for ev in rl.evals:
            rows.append({"file": file, "phase": "rl_relative", "branch_sft_step": int(branch_step),
                         "x_eflops": f"{ev['rl_flops'] / 1e18:.6g}", **_scores(ev, sets), "val_loss": "",
                         "sft_step": ""})
    return rows


def write_curves(path: pathlib.Path, rows: List[dict], sets: Sequence[str]) -> pathlib.Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(HEAD) + list(sets) + list(TAIL))
        w.writeheader()
        w.writerows(rows)
    return path
