"""Train-state checkpoints (orbax) and model exports for the SFT loop.

<workdir>/checkpoints/<step>/{state,meta}: the full train state (params, optimizer, step) plus a JSON
    `meta` item (data-iterator position, tokens/FLOPs so far, validation history, best so far) -- everything
    `--resume` needs to continue exactly. Orbax writes into a temporary directory and renames it when
    complete, so a crash never leaves a half checkpoint under a step name (the temporary directory of a save
    cut short is removed at the next start). Saves are asynchronous.
    A state with a NaN or an infinity is never saved (NonFiniteError instead), so rotation (max_to_keep)
    only ever drops finite checkpoints for newer finite ones. `restore_latest` takes the newest checkpoint
    that restores and is finite: an unreadable one (a disk fault, a file cut short) is moved aside to
    <workdir>/checkpoints.unreadable/ with a warning, and the one before it is used.
<workdir>/best_model: the best-validation-loss parameters as a jaxpt model checkpoint
    (jaxpt.models.checkpoint.load_model reads it; RL starts from it), with sft_best.json beside. It is
    written to a temporary directory and swapped in by rename, so readers never see a mix of two steps.
"""
import json
import logging
import os
import pathlib
import shutil
import time
from typing import Optional, Tuple

import jax

from jaxpt.models.checkpoint import save_model
from jaxpt.models.model import Model
from jaxpt.train.guard import NonFiniteError, assert_finite, nonfinite_leaves

BEST_INFO = "sft_best.json"
UNREADABLE = "checkpoints.unreadable"


class CheckpointError(RuntimeError):
    """No checkpoint of a work directory can be restored; the message lists each one's fault."""


class TrainCheckpointer:
    def __init__(self, directory, max_to_keep: Optional[int] = 3):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = pathlib.Path(directory).absolute()
        opts = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep or None, create=True,
                                            cleanup_tmp_directories=True)
        self.manager = ocp.CheckpointManager(self.directory, options=opts)

    def latest_step(self) -> Optional[int]:
        return self.manager.latest_step()

    def all_steps(self):
        return list(self.manager.all_steps())

    def save(self, step: int, state, meta: dict) -> bool:
        """Asynchronous save; False when this step is already saved. NonFiniteError (nothing written) when the
        state holds a NaN or an infinity."""
        if step in self.manager.all_steps():
            return False
        assert_finite(state, f"step {step}: the train state")
        # A snapshot: orbax may serialise the JSON in its background thread, after the caller has moved on and
        # changed the dicts (the loops keep updating `progress`), which wrote a later step's position beside
        # this step's state.
        meta = json.loads(json.dumps(meta))
        args = self._ocp.args.Composite(state=self._ocp.args.StandardSave(state),
                                        meta=self._ocp.args.JsonSave(meta))
        return self.manager.save(step, args=args, force=True)

    def restore(self, step: int, abstract_state):
        """(state, meta); `abstract_state` holds ShapeDtypeStructs (with shardings) of the target."""
        args = self._ocp.args.Composite(state=self._ocp.args.StandardRestore(abstract_state),
                                        meta=self._ocp.args.JsonRestore())
        out = self.manager.restore(step, args=args)
        return out.state, out.meta

    def restore_latest(self, abstract_state) -> Optional[Tuple[int, dict, dict]]:
        """(step, state, meta) of the newest checkpoint that restores with a finite state; None when there is
        none at all. Unusable newer ones are moved aside with a warning; CheckpointError when none is usable."""
        steps = sorted(self.all_steps(), reverse=True)
        faults = []
        for step in steps:
            try:
                state, meta = self.restore(step, abstract_state)
                bad = nonfinite_leaves(state)
                if bad:
                    raise NonFiniteError(f"{bad} tensors hold NaN or infinity")
            except Exception as e:  # orbax/tensorstore raise many kinds for a damaged directory
                faults.append((step, f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"))
                logging.warning("%s/%d cannot be resumed from (%s); trying the checkpoint before it",
                                self.directory, step, faults[-1][1])
                continue
            if faults:
                self._set_aside([s for s, _ in faults])
                logging.warning("%s: resuming from step %d, the newest usable checkpoint (newer, unusable: %s; "
                                "moved to %s)", self.directory, step, ", ".join(str(s) for s, _ in faults),
                                self.directory.parent / UNREADABLE)
            return step, state, meta
        if steps:
            raise CheckpointError(f"{self.directory}: no checkpoint can be resumed from: "
                                  + "; ".join(f"step {s}: {why}" for s, why in faults))
        return None

    def _set_aside(self, steps) -> None:
        """Moves unusable step directories out of the manager's sight (kept for inspection, not deleted), so
        that the resumed run can save those steps again."""
        if jax.process_index() == 0:
            dest = self.directory.parent / UNREADABLE
            dest.mkdir(exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for step in steps:
                src = self.directory / str(step)
                if src.exists():
                    os.rename(src, dest / f"{step}-{stamp}")
        _barrier("checkpoint_set_aside")
        self.manager.reload()

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def with_shardings(abstract, shardings):
    """Attach shardings to an abstract tree (None -> the default device)."""
    if shardings is None:
        dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=dev), abstract)
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)


def export_model(params, cfg, out_dir, tokenizer_dir=None, sharder=None, info: Optional[dict] = None,
                 info_name: str = BEST_INFO):
    """Atomically (re)writes `out_dir` as a jaxpt model checkpoint, with `info` in `info_name` (sft_best.json).
    NonFiniteError (nothing written, the previous export kept) when a parameter holds a NaN or an infinity."""
    out_dir = pathlib.Path(out_dir).absolute()
    assert_finite(params, f"{out_dir.name}: the exported parameters")
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    old = out_dir.with_name(f".{out_dir.name}.old")
    main = jax.process_index() == 0
    if main:
        for p in (tmp, old):
            if p.exists():
                shutil.rmtree(p)
    _barrier("export_model_start")
    save_model(Model(cfg, params, sharder, tokenizer_dir=tokenizer_dir), tmp)  # every process writes its shards
    _barrier("export_model_saved")
    if main:  # only one process swaps directories
        if info is not None:
            (tmp / info_name).write_text(json.dumps(info, indent=2))
        if out_dir.exists():
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        if old.exists():
            shutil.rmtree(old)
    _barrier("export_model_done")
    return out_dir


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def read_best_info(model_dir) -> Optional[dict]:
    path = pathlib.Path(model_dir) / BEST_INFO
    return json.loads(path.read_text()) if path.is_file() else None
