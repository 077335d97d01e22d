"""Reads performance curves (the authors' curves.csv format, also written by our pipeline) into branches.

Columns: file, phase, branch_sft_step, x_eflops, overall, <benchmark columns...>, and optionally
val_loss (sft rows). phase is "sft" (the SFT curve of a data set, x = cumulative SFT EFLOPs) or
"rl_relative" (an RL branch started at SFT step branch_sft_step, x = RL EFLOPs from the branch point).
The scene (data set) is the file name up to its first "_" (general = SFT889K, easy102K, ...).

The CSV's overall column is not trusted: overall is recomputed as the count-weighted mean of the
benchmark columns, rounded to 2 decimals.
"""
import csv
import dataclasses
import math
import pathlib
from typing import Dict, Optional, Tuple

import numpy as np

BASE_COLUMNS = ("file", "phase", "branch_sft_step", "x_eflops", "overall")
OPTIONAL_COLUMNS = ("val_loss", "sft_step")  # sft_step: our pipeline's SFT rows carry their step
PHASES = ("sft", "rl_relative")

# Problem counts that weight the authors' benchmark columns. Derived from their data: these integers
# reproduce every value of curves.csv's overall column exactly (to its 3 printed decimals), whereas the
# public benchmark sizes do not (they would put P_sft of general ckpt 14080 at 72.7, not the paper's 76.2).
AUTHORS_BENCH_COUNTS = {"gsm8k": 1317, "olympiad_bench": 291, "math": 237, "minerva": 262,
                        "aime": 25, "aime25": 25}
# Public sizes of the benchmarks our evaluator runs (docs section 8), for curves our pipeline writes.
PUBLIC_BENCH_COUNTS = {"gsm8k": 1319, "math500": 500, "math": 500, "aime24": 30, "aime": 30,
                       "aime25": 30, "amc23": 40, "minerva": 272, "minerva_math": 272,
                       "olympiadbench": 675, "olympiad_bench": 675}

# SFT EFLOPs per optimizer step of each authors' data set (section 4), with the step count they refer to.
_AUTHORS_SFT = {"general": (34.92, 360), "hard102K": (89.25, 360), "easy102K": (19.76, 360),
                "uniform102K": (34.67, 360), "s1K": (0.57, 62)}
AUTHORS_EFLOPS_PER_STEP = {k: v / n for k, (v, n) in _AUTHORS_SFT.items()}
SCENE_ALIASES = {"SFT889K": "general", "sft889k": "general"}
NEAREST_TOL = 0.2  # EFLOPs: how far the branch point may sit from an SFT evaluation point


class CurveFormatError(ValueError):
    """Malformed curves file; the message names the file, line and field."""


@dataclasses.dataclass
class SftCurve:
    scene: str
    x: np.ndarray  # cumulative SFT EFLOPs, sorted
    overall: np.ndarray
    val_loss: Optional[np.ndarray]  # None when the file has no validation loss for this scene
    steps: Optional[np.ndarray] = None  # SFT step of each point when the file has an sft_step column


@dataclasses.dataclass
class RlBranch:
    scene: str
    sft_step: int
    x: np.ndarray  # RL EFLOPs from the branch point, sorted
    overall: np.ndarray
    lines: np.ndarray  # CSV line of each point, for messages


@dataclasses.dataclass
class CurveTable:
    path: str
    benchmarks: Tuple[str, ...]
    counts: Dict[str, float]
    sft: Dict[str, SftCurve]
    rl: Dict[Tuple[str, int], RlBranch]


def scene_of(file_name: str) -> str:
    stem = pathlib.Path(file_name).name
    scene = stem.split("_", 1)[0] if "_" in stem else pathlib.Path(stem).stem
    return SCENE_ALIASES.get(scene, scene)


def default_counts(benchmarks) -> Dict[str, float]:
    """The authors' weights when the columns are exactly theirs, else the public benchmark sizes."""
    if set(benchmarks) == set(AUTHORS_BENCH_COUNTS):
        return dict(AUTHORS_BENCH_COUNTS)
    missing = [b for b in benchmarks if b not in PUBLIC_BENCH_COUNTS]
    if missing:
        raise CurveFormatError(f"no problem count known for benchmark column(s) {missing}; "
                               "pass bench_counts")
    return {b: PUBLIC_BENCH_COUNTS[b] for b in benchmarks}


def overall_score(values: Dict[str, float], counts: Dict[str, float]) -> float:
    """Count-weighted mean over benchmarks (a micro-average over problems), rounded to 2 decimals."""
    total = sum(counts[b] for b in values)
    return round(sum(values[b] * counts[b] for b in values) / total, 2)


def _number(text, path, line, field, allow_empty=False):
    text = (text or "").strip()
    if text == "" and allow_empty:
        return None
    try:
        v = float(text)
    except ValueError:
        raise CurveFormatError(f"{path}, line {line}, field '{field}': {text!r} is not a number") from None
    if not math.isfinite(v):
        raise CurveFormatError(f"{path}, line {line}, field '{field}': {text!r} is not finite")
    return v


def read_curves(path, bench_counts: Optional[Dict[str, float]] = None) -> CurveTable:
    """Parses and validates a curves CSV; errors name the file, line and field."""
    path = str(path)
    sft_rows: Dict[str, list] = {}
    rl_rows: Dict[Tuple[str, int], list] = {}
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in BASE_COLUMNS if c not in header]
        if missing:
            raise CurveFormatError(f"{path}, line 1: missing column(s) {missing} (header: {header})")
        benchmarks = tuple(c for c in header if c not in BASE_COLUMNS and c not in OPTIONAL_COLUMNS)
        if not benchmarks:
            raise CurveFormatError(f"{path}, line 1: no benchmark columns after {list(BASE_COLUMNS)}")
        counts = dict(bench_counts) if bench_counts else default_counts(benchmarks)
        unknown = [b for b in benchmarks if b not in counts]
        if unknown:
            raise CurveFormatError(f"{path}: no problem count given for benchmark column(s) {unknown}")
        has_loss = "val_loss" in header
        has_step = "sft_step" in header
        for row in reader:
            line = reader.line_num
            if None in row or any(row.get(c) is None for c in header):
                raise CurveFormatError(f"{path}, line {line}: expected {len(header)} fields")
            phase = row["phase"].strip()
            if phase not in PHASES:
                raise CurveFormatError(f"{path}, line {line}, field 'phase': {phase!r} is not one of {PHASES}")
            if not row["file"].strip():
                raise CurveFormatError(f"{path}, line {line}, field 'file': empty")
            x = _number(row["x_eflops"], path, line, "x_eflops")
            if x < 0:
                raise CurveFormatError(f"{path}, line {line}, field 'x_eflops': negative ({x})")
            scores = {b: _number(row[b], path, line, b) for b in benchmarks}
            overall = overall_score(scores, counts)
            scene = scene_of(row["file"])
            if phase == "sft":
                loss = _number(row["val_loss"], path, line, "val_loss", allow_empty=True) if has_loss else None
                step = _number(row["sft_step"], path, line, "sft_step", allow_empty=True) if has_step else None
                sft_rows.setdefault(scene, []).append((x, overall, loss, line, step))
            else:
                step = _number(row["branch_sft_step"], path, line, "branch_sft_step")
                if step < 0 or step != int(step):
                    raise CurveFormatError(
                        f"{path}, line {line}, field 'branch_sft_step': {row['branch_sft_step']!r} "
                        "is not a non-negative integer")
                rl_rows.setdefault((scene, int(step)), []).append((x, overall, line))
    sft = {}
    for scene, rows in sft_rows.items():
        rows.sort(key=lambda r: r[0])
        losses = [r[2] for r in rows]
        have = [v is not None for v in losses]
        steps = [r[4] for r in rows]
        sft[scene] = SftCurve(scene, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                              np.array([np.nan if v is None else v for v in losses]) if any(have) else None,
                              np.array([-1 if v is None else v for v in steps]) if any(
                                  v is not None for v in steps) else None)
    rl = {}
    for key, rows in rl_rows.items():
        rows.sort(key=lambda r: r[0])
        rl[key] = RlBranch(key[0], key[1], np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                           np.array([r[2] for r in rows]))
    return CurveTable(path, benchmarks, counts, sft, rl)


def sft_eflops(scene: str, step: int, eflops_per_step: Optional[Dict[str, float]] = None) -> float:
    """Cumulative SFT EFLOPs at a step of the scene's SFT run."""
    if step == 0:
        return 0.0
    table = dict(AUTHORS_EFLOPS_PER_STEP)
    table.update(eflops_per_step or {})
    if scene not in table:
        raise KeyError(f"no SFT EFLOPs per step known for scene {scene!r}; pass eflops_per_step "
                       "(e.g. from jaxpt.analysis.flops.sft_step_flops)")
    return step * table[scene]


def sft_point(curve: SftCurve, x: float, tol: float = NEAREST_TOL) -> int:
    """Index of the SFT evaluation nearest to x EFLOPs; it must lie within tol."""
    i = int(np.argmin(np.abs(curve.x - x)))
    if abs(curve.x[i] - x) > tol:
        raise KeyError(f"scene {curve.scene!r}: no SFT evaluation within {tol} EFLOPs of {x:.2f} "
                       f"(nearest {curve.x[i]:.2f})")
    return i


@dataclasses.dataclass
class BranchData:
    """One RL branch in gain space: points (0, 0) then (x_rl, overall - P_sft), sorted by x."""
    scene: str
    sft_scene: str
    sft_step: int
    sft_x: float
    P_sft: float
    x: np.ndarray
    y: np.ndarray
    sft_index: int


def build_branch(table: CurveTable, scene: str, sft_step: int, sft_scene: Optional[str] = None,
                 eflops_per_step: Optional[Dict[str, float]] = None) -> BranchData:
    sft_scene = sft_scene or scene
    if (scene, sft_step) not in table.rl:
        raise KeyError(f"{table.path}: no RL branch for scene {scene!r} at SFT step {sft_step}")
    if sft_scene not in table.sft:
        raise KeyError(f"{table.path}: no SFT curve for scene {sft_scene!r}")
    curve = table.sft[sft_scene]
    if curve.steps is not None and sft_step in curve.steps:
        i = int(np.flatnonzero(curve.steps == sft_step)[0])  # exact: the file says which step each point is
    else:
        i = sft_point(curve, sft_eflops(sft_scene, sft_step, eflops_per_step))
    p_sft = float(curve.overall[i])
    br = table.rl[(scene, sft_step)]
    # Section 2: (0, 0) followed by all the branch's RL points, sorted by x. An RL evaluation at x = 0
    # (if a file has one) stays a point of its own after (0, 0), as the text says; the index splits of
    # the authors' settings count it. (The authors' file has none, so their branches are unaffected.)
    x = np.concatenate([[0.0], br.x])
    y = np.concatenate([[0.0], br.overall - p_sft])
    order = np.argsort(x, kind="stable")
    return BranchData(scene, sft_scene, sft_step, float(curve.x[i]), p_sft, x[order], np.round(y[order], 6), i)
