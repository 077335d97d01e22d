"""jaxpt model checkpoints (orbax) and a loader that accepts either that or a Hugging Face directory.

Layout of a jaxpt model checkpoint directory:
    jaxpt_model.json   {"format": "jaxpt-model", "config": {...ModelConfig...}, "tokenizer_dir": "tokenizer"}
    params/            orbax StandardCheckpointer output (parameters as a pytree)
    tokenizer/         the tokenizer files, copied in: a checkpoint moved or copied elsewhere still has them
                       (older checkpoints stored an absolute path instead; both load)
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
TOKENIZER_SUBDIR = "tokenizer"


def save_model(model: Model, out_dir) -> pathlib.Path:
    import orbax.checkpoint as ocp

    out_dir = pathlib.Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(out_dir / "params", model.params, force=True)
        ckptr.wait_until_finished()
    tok = None
    if model.tokenizer_dir and jax.process_index() == 0:
        tok = _copy_tokenizer(pathlib.Path(model.tokenizer_dir), out_dir / TOKENIZER_SUBDIR)
    elif model.tokenizer_dir:
        tok = TOKENIZER_SUBDIR
    meta = {"format": "jaxpt-model", "config": model.config.to_dict(), "tokenizer_dir": tok}
    tmp = out_dir / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, out_dir / META)
    return out_dir


def _copy_tokenizer(src: pathlib.Path, dst: pathlib.Path) -> Optional[str]:
    """Copies the tokenizer files of `src` into `dst`; returns the relative name, or None if `src` has none."""
    import shutil

    from jaxpt.models.model import TOKENIZER_FILES

    if not src.is_dir():
        return None
    files = [src / name for name in TOKENIZER_FILES if (src / name).is_file()]
    if not files:
        return None
    dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.resolve() != (dst / f.name).resolve():
            shutil.copy(f, dst / f.name)
    return TOKENIZER_SUBDIR


def checkpoint_tokenizer_dir(path) -> Optional[str]:
    """The tokenizer directory a jaxpt checkpoint carries (a relative entry resolves inside it)."""
    path = pathlib.Path(path).absolute()
    tok = json.loads((path / META).read_text()).get("tokenizer_dir")
    if not tok:
        return None
    tok_path = pathlib.Path(tok)
    return str(tok_path if tok_path.is_absolute() else path / tok_path)


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
    return Model(cfg, params, sharder, tokenizer_dir=checkpoint_tokenizer_dir(path))


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
