"""jaxpt model checkpoints (orbax) and a loader that accepts either that or a Hugging Face directory.

Layout of a jaxpt model checkpoint directory:
    jaxpt_model.json   {"format": "jaxpt-model", "config": {...ModelConfig...}, "tokenizer_dir": ...}
    params/            orbax StandardCheckpointer output (parameters as a pytree)
Orbax writes into a temporary directory and renames it when complete, so a crash never leaves a half
checkpoint behind under the final name; jaxpt_model.json is written last (also via rename).
"""
import json
import os
import pathlib
from typing import Optional

import jax

from jaxpt.models.config import ModelConfig
from jaxpt.models.model import Model, _as_sharder, load_pretrained, param_shardings
from jaxpt.models.params import init_params

META = "jaxpt_model.json"


def save_model(model: Model, out_dir) -> pathlib.Path:
    import orbax.checkpoint as ocp

    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(out_dir / "params", model.params, force=True)
        ckptr.wait_until_finished()
    meta = {"format": "jaxpt-model", "config": model.config.to_dict(),
            "tokenizer_dir": str(model.tokenizer_dir) if model.tokenizer_dir else None}
    tmp = out_dir / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, out_dir / META)
    return out_dir


def is_jaxpt_checkpoint(path) -> bool:
    return (pathlib.Path(path) / META).is_file()


def load_model_checkpoint(path, mesh=None, **config_overrides) -> Model:
    import orbax.checkpoint as ocp

    path = pathlib.Path(path).absolute()
    meta = json.loads((path / META).read_text())
    cfg = ModelConfig.from_dict({**meta["config"], **config_overrides})
    sharder = _as_sharder(mesh)
    shardings = param_shardings(cfg, sharder)
    abstract = jax.eval_shape(lambda: init_params(cfg, jax.random.key(0)))
    if shardings is not None:
        abstract = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                abstract, shardings)
    with ocp.StandardCheckpointer() as ckptr:
        params = ckptr.restore(path / "params", abstract)
    return Model(cfg, params, sharder, tokenizer_dir=meta.get("tokenizer_dir"))


def load_model(path, dtype: Optional[str] = None, mesh=None, **config_overrides) -> Model:
    """A jaxpt checkpoint directory or a Hugging Face directory, whichever `path` is."""
    if is_jaxpt_checkpoint(path):
        if dtype:
            config_overrides.setdefault("param_dtype", dtype)
            config_overrides.setdefault("dtype", dtype)
        return load_model_checkpoint(path, mesh=mesh, **config_overrides)
    if (pathlib.Path(path) / "config.json").is_file():
        return load_pretrained(path, dtype=dtype or "float32", mesh=mesh, **config_overrides)
    raise FileNotFoundError(f"{path}: neither a jaxpt checkpoint ({META}) nor a Hugging Face directory "
                            "(config.json)")
