"""A small metrics writer shared by SFT and RL: one JSON line per write, plus TensorBoard scalars.

    with MetricsWriter(workdir) as w:
        w.write(step, {"train/loss": 1.2, "val/loss": 1.4})

JSONL lines look like {"step": 10, "time": 12.3, "train/loss": 1.2}; non-finite floats are written as null
(strict JSON). Only process 0 writes in multi-host runs. TensorBoard is optional (tensorboardX).
"""
import json
import math
import pathlib
import time
from typing import Mapping, Optional


def _scalar(v):
    """Python float/int/str/None from numpy/jax scalars; None for non-finite floats."""
    if hasattr(v, "item") and getattr(v, "size", 1) == 1:
        v = v.item()
    if isinstance(v, bool) or isinstance(v, (int, str)) or v is None:
        return v
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return v if math.isfinite(v) else None


class MetricsWriter:
    def __init__(self, logdir, filename: str = "metrics.jsonl", tensorboard: bool = True,
                 enabled: Optional[bool] = None):
        if enabled is None:
            try:
                import jax

                enabled = jax.process_index() == 0
            except Exception:  # pragma: no cover - jax missing
                enabled = True
        self.enabled = enabled
        self.logdir = pathlib.Path(logdir)
        self.path = self.logdir / filename
        self._t0 = time.time()
        self._file = None
        self._tb = None
        if not enabled:
            return
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", buffering=1)  # line-buffered: readable while the run goes on
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter

                self._tb = SummaryWriter(str(self.logdir / "tb"))
            except ImportError:  # pragma: no cover
                self._tb = None

    def write(self, step: int, metrics: Mapping, prefix: str = "") -> None:
        if not self.enabled:
            return
        row = {"step": int(step), "time": round(time.time() - self._t0, 3)}
        for k, v in metrics.items():
            row[prefix + k] = _scalar(v)
        self._file.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(k, v, int(step))

    def flush(self) -> None:
        if self._file:
            self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_metrics(path) -> list:
    """All rows of a metrics JSONL file (e.g. to plot or to check a run)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
