"""Train-state checkpoints (orbax) and model exports for the SFT loop.

<workdir>/checkpoints/<step>/{state,meta}: the full train state (params, optimizer, step) plus a JSON
    `meta` item (data-iterator position, tokens/FLOPs so far, validation history, best so far) -- everything
    `--resume` needs to continue exactly. Orbax writes into a temporary directory and renames it when
    complete, so a crash never leaves a half checkpoint under a step name. Saves are asynchronous.
<workdir>/best_model: the best-validation-loss parameters as a jaxpt model checkpoint
    (jaxpt.models.checkpoint.load_model reads it; RL starts from it), with sft_best.json beside. It is
    written to a temporary directory and swapped in by rename, so readers never see a mix of two steps.
"""
import json
import os
import pathlib
import shutil
from typing import Optional

import jax

from jaxpt.models.checkpoint import save_model
from jaxpt.models.model import Model

BEST_INFO = "sft_best.json"


class TrainCheckpointer:
    def __init__(self, directory, max_to_keep: Optional[int] = 3):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = pathlib.Path(directory).absolute()
        opts = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep or None, create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=opts)

    def latest_step(self) -> Optional[int]:
        return self.manager.latest_step()

    def all_steps(self):
        return list(self.manager.all_steps())

    def save(self, step: int, state, meta: dict) -> bool:
        """Asynchronous save; False when this step is already saved."""
        if step in self.manager.all_steps():
            return False
        args = self._ocp.args.Composite(state=self._ocp.args.StandardSave(state),
                                        meta=self._ocp.args.JsonSave(meta))
        return self.manager.save(step, args=args, force=True)

    def restore(self, step: int, abstract_state):
        """(state, meta); `abstract_state` holds ShapeDtypeStructs (with shardings) of the target."""
        args = self._ocp.args.Composite(state=self._ocp.args.StandardRestore(abstract_state),
                                        meta=self._ocp.args.JsonRestore())
        out = self.manager.restore(step, args=args)
        return out.state, out.meta

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
    """Atomically (re)writes `out_dir` as a jaxpt model checkpoint, with `info` in `info_name` (sft_best.json)."""
    out_dir = pathlib.Path(out_dir).absolute()
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
