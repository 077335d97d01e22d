"""Writes evaluation results: results.json (metrics + settings), results.md (a table) and
outputs/<benchmark>.jsonl (every problem's prompt, gold, outputs, extracted answers and grades)."""
import json
import pathlib
from typing import Dict, Optional


def _columns(metrics: Dict[str, Dict[str, float]]):
    keys = []
    for m in metrics.values():
        for key in m:
            if key not in keys and key not in ("num_problems", "k"):
                keys.append(key)
    return keys


def markdown_table(metrics: Dict[str, Dict[str, float]], overall: Optional[Dict[str, float]] = None) -> str:
    """Rows = benchmarks (+ overall), columns = metrics (percentages, lengths in tokens)."""
    rows = dict(metrics)
    if overall:
        rows["overall (count-weighted)"] = overall
    cols = _columns(rows)
    lines = ["| benchmark | problems | " + " | ".join(cols) + " |", "|---|---:|" + "---:|" * len(cols)]
    for name, m in rows.items():
        cells = []
        for c in cols:
            v = m.get(c)
            if v is None:
                cells.append("")
            elif c == "mean_length":
                cells.append(f"{v:.1f}")
            else:
                cells.append(f"{100 * v:.1f}")
        lines.append(f"| {name} | {m.get('num_problems', 0)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(out_dir, results: Dict[str, "EvalResult"], overall: Optional[Dict[str, float]] = None,  # noqa: F821
                  extra: Optional[dict] = None) -> pathlib.Path:
    out_dir = pathlib.Path(out_dir)
    (out_dir / "outputs").mkdir(parents=True, exist_ok=True)
    metrics = {name: r.metrics for name, r in results.items()}
    first = next(iter(results.values()), None)
    summary = {"benchmarks": metrics, "overall": overall, "settings": first.settings if first else {},
               "seconds": max((r.seconds for r in results.values()), default=0.0), **(extra or {})}
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "results.md").write_text(markdown_table(metrics, overall))
    for name, r in results.items():
        with open(out_dir / "outputs" / f"{name}.jsonl", "w") as f:
            for p in r.problems:
                f.write(json.dumps(p) + "\n")
    return out_dir
