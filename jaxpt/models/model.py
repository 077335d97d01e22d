"""`Model`: a config, a parameter tree and (optionally) a mesh, with Hugging Face import/export.

    model = jaxpt.load_pretrained("path/to/hf_dir", dtype="float32", mesh=None)
    logits = model.logits(input_ids, attention_mask)          # [B, T, V] float32
    model.save_pretrained("out_dir")                          # loads in transformers
    model = jaxpt.Model.from_config("qwen2.5-0.5b", seed=0)   # random weights
"""
import functools
import json
import pathlib
import shutil
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxpt.models import decoder, hf_config, hf_params
from jaxpt.models.config import ModelConfig, get_config
from jaxpt.models.params import count_params, init_params, param_axes, param_shapes, stack_layers
from jaxpt.parallel.rules import Sharder, check_divisible

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "vocab.json", "merges.txt", "generation_config.json", "chat_template.jinja")


def _as_sharder(mesh) -> Optional[Sharder]:
    if mesh is None or isinstance(mesh, Sharder):
        return mesh
    return Sharder(mesh)


def param_shardings(cfg: ModelConfig, sharder: Optional[Sharder]):
    """NamedSharding per parameter (None without a mesh), after checking every dimension divides."""
    if sharder is None:
        return None
    axes = param_axes(cfg)
    check_divisible(param_shapes(cfg), axes, sharder)
    return jax.tree.map(sharder.sharding, axes, is_leaf=lambda t: isinstance(t, tuple))


@functools.partial(jax.jit, static_argnums=(1, 5))
def _logits_fn(params, cfg, tokens, positions, segment_ids, sharder):
    return decoder.forward(params, cfg, tokens, positions, segment_ids, sharder=sharder)[0]


class Model:
    def __init__(self, config: ModelConfig, params: dict, mesh=None, tokenizer_dir=None):
        self.config = config
        self.params = params
        self.sharder = _as_sharder(mesh)
        self.tokenizer_dir = tokenizer_dir  # where HF tokenizer files came from (copied on save)

    # ----------------------------------------------------------------------------------------- creation
    @classmethod
    def from_config(cls, preset_or_config, seed: int = 0, mesh=None, **overrides) -> "Model":
        """Random weights (jitted init; sharded at creation when a mesh is given)."""
        cfg = get_config(preset_or_config, **overrides)
        sharder = _as_sharder(mesh)
        init = jax.jit(init_params, static_argnums=0, out_shardings=param_shardings(cfg, sharder))
        return cls(cfg, init(cfg, jax.random.key(seed)), sharder)

    @classmethod
    def abstract(cls, preset_or_config, **overrides):
        """Shapes and dtypes of the parameters via jax.eval_shape: nothing is allocated."""
        cfg = get_config(preset_or_config, **overrides)
        return cfg, jax.eval_shape(functools.partial(init_params, cfg), jax.random.key(0))

    @property
    def num_params(self) -> int:
        return count_params(self.params)

    # ----------------------------------------------------------------------------------------- forward
    def logits(self, input_ids, attention_mask=None, positions=None):
        """[B, T, V] float32 logits. Positions default to cumsum(mask) - 1, so left padding works."""
        tokens = jnp.asarray(input_ids, jnp.int32)
        mask = None if attention_mask is None else jnp.asarray(attention_mask, jnp.int32)
        if positions is None:
            positions = (decoder.default_positions(mask) if mask is not None
                         else jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape))
        positions = jnp.asarray(positions, jnp.int32)
        return _logits_fn(self.params, self.config, tokens, positions, mask, self.sharder)

    def generate(self, prompt_ids, max_new_tokens: int, **kwargs):
        """Sampling; see jaxpt.sample.sampler.generate for arguments and outputs."""
        from jaxpt.sample.sampler import generate

        return generate(self, prompt_ids, max_new_tokens, **kwargs)

    # ----------------------------------------------------------------------------------------- HF export
    def save_pretrained(self, out_dir, dtype: Optional[str] = None) -> pathlib.Path:
        """Writes config.json + safetensors (+ tokenizer files if known) that transformers loads."""
        out_dir = pathlib.Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        dtype = dtype or self.config.param_dtype
        np_dtype = jnp.dtype(dtype)
        hf_params.save_hf_params(self.params, self.config, out_dir, dtype=np_dtype)
        hf = hf_config.config_to_hf(self.config, dtype=str(np.dtype(np_dtype).name))
        (out_dir / "config.json").write_text(json.dumps(hf, indent=2))
        if self.tokenizer_dir is not None:
            for name in TOKENIZER_FILES:
                src = pathlib.Path(self.tokenizer_dir) / name
                if src.is_file() and src.resolve() != (out_dir / name).resolve():
                    shutil.copy(src, out_dir / name)
        gen = out_dir / "generation_config.json"
        if not gen.is_file():  # transformers' generate() reads its stop and pad ids from here
            gen.write_text(json.dumps(hf_config.generation_config(self.config), indent=2))
        return out_dir


def load_pretrained(path, dtype: str = "float32", mesh=None, compute_dtype: Optional[str] = None,
                    **config_overrides) -> Model:
    """Reads a Hugging Face model directory (config.json + single or index-sharded safetensors).

    `dtype` is the parameter dtype; `compute_dtype` defaults to it. With a mesh, each tensor is placed on the
    devices with its sharding as it is read.
    """
    path = pathlib.Path(path)
    cfg = hf_config.read_hf_config(path, param_dtype=dtype, dtype=compute_dtype or dtype, **config_overrides)
    sharder = _as_sharder(mesh)
    flat_cfg = cfg.replace(scan_layers=False)
    shardings = param_shardings(flat_cfg, sharder)
    np_dtype = jnp.dtype(dtype)

    def place(p, array):
        array = np.asarray(array).astype(np_dtype)
        if shardings is None:
            return jnp.asarray(array)
        return jax.device_put(array, hf_params._get(shardings, p))

    params = hf_params.load_hf_params(path, flat_cfg, place)
    if cfg.scan_layers:
        params = stack_layers(params)
        if sharder is not None:
            params = jax.device_put(params, param_shardings(cfg, sharder))
    tok_dir = path if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file() else None
    return Model(cfg, params, sharder, tokenizer_dir=tok_dir)
