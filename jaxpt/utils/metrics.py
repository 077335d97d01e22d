"""A small metrics writer shared by SFT and RL: one JSON line per write, plus TensorBoard scalars.

    with MetricsWriter(workdir) as w:
        w.write(step, {"train/loss": 1.2, "val/loss": 1.4})

JSONL lines look like {"step": 10, "time": 12.3, "train/loss": 1.2}; non-finite floats are written as null
(strict JSON). Only process 0 writes in multi-host runs. TensorBoard is optional (tensorboardX).

Every JSONL log of a run (metrics, samples, evaluations) goes through `JsonlLog`: line-buffered, so a row is
with the OS as soon as it is written and kill -9 loses none, and fsync'ed by `flush()`, which the loops call
at every checkpoint (a machine crash then loses nothing the checkpoint covers). On resume `trim_jsonl` cuts
each log back to the checkpoint's step, so the redone steps are not written twice.
"""
import json
import logging
import math
import os
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


class JsonlLog:
    """Append-only JSON-lines file: one row per `write`, readable (and kill -9 safe) at once."""

    def __init__(self, path, enabled: bool = True):
        self.path = pathlib.Path(path)
        self._file = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", buffering=1)  # line-buffered: each row reaches the OS as it is written

    def write(self, row: Mapping) -> None:
        if self._file is not None:
            self._file.write(json.dumps(row) + "\n")

    def flush(self) -> None:
        """Python's buffer to the OS, and the OS's to the disk."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None


def trim_jsonl(path, last_step: int) -> int:
    """Keeps the rows of `path` with step <= last_step (rows without a step count as step 0), atomically.
    A line cut short by a kill mid-write is dropped with a warning. Returns the number of rows removed."""
    path = pathlib.Path(path)
    if not path.is_file():
        return 0
    keep, removed, torn = [], 0, 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if int(row.get("step", 0) if isinstance(row, dict) else 0) <= last_step:
            keep.append(line)
        else:
            removed += 1
    if torn:
        logging.warning("%s: dropped %d unreadable line(s) (cut short when the run was killed)", path, torn)
    if removed or torn:
        tmp = path.with_name(f".{path.name}.trim")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, path)
    return removed + torn


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
        self._file = JsonlLog(self.path)
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
        self._file.write(row)
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(k, v, int(step))

    def flush(self) -> None:
        """Everything written so far to disk (the loops call it at every checkpoint)."""
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
    """All rows of a metrics JSONL file (e.g. to plot or to check a run). A last line cut short by a kill
    mid-write is left out; a bad line anywhere else is an error."""
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if i < len(lines) - 1 or line.endswith("\n"):
                raise ValueError(f"{path}: row {i + 1} is not JSON ({line[:80]!r})") from None
    return rows
