"""The run directory of a pipeline and its ledger: outputs of finished stages, so that a resumed run
(`--resume` after a crash or kill -9) skips them and ends with the same summary as an uninterrupted run.

<out_dir>/<name>/pipeline_state.json   {"p0": ..., "sft": ..., ...}: one entry per finished stage output,
                                        rewritten atomically (temp file + rename) after each.
<out_dir>/<name>/config.json           the run's config; a resume with a different config is refused.
Only process 0 writes (multi-host runs compute the same values everywhere).
The run directory is locked (jaxpt.utils.workdir_lock) from `run_dir` until the process ends: a second
pipeline with the same name fails at once naming the first, instead of moving its directory away.
"""
import json
import os
import pathlib
import time

import jax
from absl import logging

from jaxpt.utils.workdir_lock import LOCK_NAME, WorkdirLock

STATE = "pipeline_state.json"
CONFIG = "config.json"
IGNORED = ("checkpoint.resume", "log.progress", "log.print_evals")  # keys a resume may change
_HELD: dict = {}  # run directory -> its lock, held by this process until it exits


def is_main() -> bool:
    return jax.process_index() == 0


def run_dir(cfg, resume: bool) -> pathlib.Path:
    """<out_dir>/<name>. A fresh run keeps an earlier one of the same name, renamed with its time; a resume
    continues it (or starts it when there is none)."""
    path = pathlib.Path(cfg.out_dir) / cfg.name
    held = str(path.absolute()) in _HELD
    if not resume and path.exists() and any(p.name != LOCK_NAME for p in path.iterdir()) and is_main():
        if held:
            _HELD.pop(str(path.absolute())).release()
        else:
            WorkdirLock(path, "a pipeline").acquire().release()  # a live run there is refused, not moved away
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        path.rename(path.with_name(f"{path.name}.{stamp}"))
        logging.warning("kept the previous run as %s.%s (use --resume to continue a run)", path.name, stamp)
    path.mkdir(parents=True, exist_ok=True)
    if is_main() and str(path.absolute()) not in _HELD:
        _HELD[str(path.absolute())] = WorkdirLock(path, "a pipeline").acquire()
    _check_config(path, cfg, resume)
    return path


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _check_config(path: pathlib.Path, cfg, resume: bool) -> None:
    file = path / CONFIG
    now = json.loads(cfg.to_json_best_effort())
    if resume and file.is_file():
        before, flat_now = _flat(json.loads(file.read_text())), _flat(now)
        # Keys the run's jaxpt did not have yet (a newer version resuming it) are not differences.
        new_keys = sorted(k for k in set(flat_now) - set(before) if k not in IGNORED)
        if new_keys:
            logging.warning("%s: resuming a run whose config predates %s; they take their current values",
                            path, ", ".join(new_keys[:8]) + (" ..." if len(new_keys) > 8 else ""))
        diff = sorted(k for k in set(before) if k not in IGNORED and before.get(k) != flat_now.get(k))
        if diff:
            raise ValueError(f"{path} was started with another config ({', '.join(diff[:5])} differ): resume it "
                             "with the same config, or start a new run name")
    if is_main():
        _atomic_write(file, json.dumps(now, indent=2))


def _atomic_write(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Ledger:
    def __init__(self, run: pathlib.Path):
        self.path = run / STATE
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def put(self, key: str, value) -> None:
        self.data[key] = value
        if is_main():
            _atomic_write(self.path, json.dumps(self.data, indent=1, default=float))
