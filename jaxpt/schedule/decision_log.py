"""decisions.jsonl: every decision the forecast-driven scheduler takes, with the forecast behind it.

One JSON object a line, each with "kind":
    probe     a candidate's probe was forecast and judged (its points, forecast, predicted band, verdict)
    switch    SFT stopped: the branch RL continues from, why, and the budget plan when there is one
    rl_check  an RL evaluation under rl.stop = "forecast": the marginal and remaining gain, stop or not
A resumed run replays its decisions; records already in the file (same kind and key) are not written again,
so the file reads the same as an uninterrupted run's.
"""
import json
import math
import pathlib
from typing import Iterator, List, Optional

import numpy as np

from jaxpt.schedule.probes import EFLOP, Probe

FILE = "decisions.jsonl"
BAND_POINTS = 40


def _clean(v):
    """JSON-safe: numpy scalars to Python, non-finite floats to None."""
    if isinstance(v, dict):
        return {str(k): _clean(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(u) for u in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    return v


class DecisionLog:
    def __init__(self, run_dir, enabled: bool = True):
        self.path = pathlib.Path(run_dir) / FILE
        self.enabled = enabled
        self._keys = {(r["kind"], r.get("key")) for r in read_decisions(self.path)}

    def write(self, kind: str, key, record: dict) -> None:
        if not self.enabled or (kind, key) in self._keys:
            return
        self._keys.add((kind, key))
        with open(self.path, "a") as f:
            f.write(json.dumps(_clean({"kind": kind, "key": key, **record})) + "\n")


def read_decisions(path) -> List[dict]:
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def predicted_band(fc, x_end_flops: float, n: int = BAND_POINTS) -> dict:
    """The forecast curve (median and interval, points) from 0 to x_end_flops of RL compute, for the report."""
    xs = np.linspace(x_end_flops / n, x_end_flops, n)
    band = fc.predict(xs / EFLOP)
    return {"x_flops": [0.0] + xs.tolist(), "median": [fc.P_sft] + band.median.tolist(),
            "lo": [fc.P_sft] + band.lo.tolist(), "hi": [fc.P_sft] + band.hi.tolist()}


def probe_record(probe: Probe, fc, verdict, horizon: Optional[float]) -> dict:
    """A probe decision: the probe's evaluations, its forecast, the band out to the compute it was judged at
    (judged at the ceiling: to 4 times the probe), the verdict."""
    x_end = horizon if horizon else 4.0 * probe.flops
    return {"step": probe.step, "probe": probe.to_json(), "forecast": fc.as_dict(),
            "band": predicted_band(fc, x_end), "verdict": verdict.as_dict()}


def records(path, kind: str) -> Iterator[dict]:
    return (r for r in read_decisions(path) if r["kind"] == kind)
