"""Hugging Face safetensors <-> jaxpt parameter tree, driven by one declarative table.

Each row: HF key pattern -> our parameter path (with `{i}` the layer index) + transform. HF stores linear
weights [out, in]; ours are [in, out], hence the transpose. The table is shared by Qwen2 and Llama: rows whose
HF key is absent in a checkpoint (biases for Llama, lm_head when tied) are simply skipped on import.
"""
import json
import pathlib
import re
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np

from jaxpt.models.config import ModelConfig

# (HF key pattern, our path, transform on import)
KEY_TABLE = (
    (r"model\.embed_tokens\.weight", "embed", None),
    (r"model\.norm\.weight", "final_norm", None),
    (r"lm_head\.weight", "lm_head", "T"),
    (r"model\.layers\.(\d+)\.input_layernorm\.weight", "layers.{i}.attn_norm", None),
    (r"model\.layers\.(\d+)\.self_attn\.q_proj\.weight", "layers.{i}.wq", "T"),
    (r"model\.layers\.(\d+)\.self_attn\.q_proj\.bias", "layers.{i}.bq", None),
    (r"model\.layers\.(\d+)\.self_attn\.k_proj\.weight", "layers.{i}.wk", "T"),
    (r"model\.layers\.(\d+)\.self_attn\.k_proj\.bias", "layers.{i}.bk", None),
    (r"model\.layers\.(\d+)\.self_attn\.v_proj\.weight", "layers.{i}.wv", "T"),
    (r"model\.layers\.(\d+)\.self_attn\.v_proj\.bias", "layers.{i}.bv", None),
    (r"model\.layers\.(\d+)\.self_attn\.o_proj\.weight", "layers.{i}.wo", "T"),
    (r"model\.layers\.(\d+)\.post_attention_layernorm\.weight", "layers.{i}.mlp_norm", None),
    (r"model\.layers\.(\d+)\.mlp\.gate_proj\.weight", "layers.{i}.w_gate", "T"),
    (r"model\.layers\.(\d+)\.mlp\.up_proj\.weight", "layers.{i}.w_up", "T"),
    (r"model\.layers\.(\d+)\.mlp\.down_proj\.weight", "layers.{i}.w_down", "T"),
)
# Keys present in some checkpoints that carry no parameters we need.
IGNORED = (r".*rotary_emb\.inv_freq",)

_TRANSFORMS: Dict[Optional[str], Callable[[np.ndarray], np.ndarray]] = {
    None: lambda a: a,
    "T": lambda a: a.T,
}

_COMPILED = tuple((re.compile(p + r"\Z"), path, t) for p, path, t in KEY_TABLE)


def hf_key_to_path(key: str) -> Optional[Tuple[str, Optional[str]]]:
    """'model.layers.3.mlp.up_proj.weight' -> ('layers.3.w_up', 'T'); None for ignored keys."""
    for pattern, path, transform in _COMPILED:
        m = pattern.match(key)
        if m:
            return path.format(i=m.group(1)) if m.groups() else path, transform
    if any(re.match(p, key) for p in IGNORED):
        return None
    raise KeyError(f"unexpected checkpoint tensor {key!r}: no row of the import table matches it")


def path_to_hf_keys(cfg: ModelConfig) -> Iterator[Tuple[str, str, Optional[str]]]:
    """(our path, HF key, transform) for every parameter of `cfg` (list layout), in HF order."""
    from jaxpt.models.params import global_shapes, layer_shapes

    glob = global_shapes(cfg)
    layer = layer_shapes(cfg)
    for pattern, path, transform in KEY_TABLE:
        key = pattern.replace("\\.", ".")
        if "{i}" in path:
            name = path.split(".")[-1]
            if name not in layer:
                continue
            for i in range(cfg.num_layers):
                yield path.format(i=i), key.replace(r"(\d+)", str(i)), transform
        elif path in glob:
            yield path, key, transform


def _set(tree: dict, path: str, value) -> None:
    parts = path.split(".")
    node = tree
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[parts[-1]] = value


def _get(tree: dict, path: str):
    node = tree
    for p in path.split("."):
        node = node[int(p)] if isinstance(node, list) else node[p]
    return node


def safetensors_files(model_dir) -> list:
    model_dir = pathlib.Path(model_dir)
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return [model_dir / f for f in sorted(set(weight_map.values()))]
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{model_dir}: no *.safetensors files (and no model.safetensors.index.json)")
    return files


def _open_safetensors(safe_open, file):
    if not pathlib.Path(file).is_file():
        raise FileNotFoundError(f"{file}: listed in the checkpoint but missing")
    try:
        return safe_open(str(file), framework="numpy")
    except Exception as e:  # e.g. SafetensorError: MetadataIncompleteBuffer, without the file name
        raise ValueError(f"{file}: not a readable safetensors file ({type(e).__name__}: {e}); it is truncated "
                         "or corrupt: download or export it again") from e


def load_hf_params(model_dir, cfg: ModelConfig, place: Callable[[str, np.ndarray], object]) -> dict:
    """Reads tensors one at a time, transforms them and hands each to `place(path, array)` (which casts and
    puts it on devices with the right sharding), so a big checkpoint is never held twice in host memory."""
    from safetensors import safe_open

    from jaxpt.models.params import param_shapes

    shapes = param_shapes(cfg.replace(scan_layers=False))
    tree = {"layers": [dict() for _ in range(cfg.num_layers)]}
    seen = set()
    for file in safetensors_files(model_dir):
        with _open_safetensors(safe_open, file) as f:
            for key in f.keys():
                target = hf_key_to_path(key)
                if target is None:
                    continue
                path, transform = target
                if path == "lm_head" and cfg.tie_embeddings:
                    continue  # some tied checkpoints still store a copy of the embedding
                try:
                    expected = _get(shapes, path)
                except (KeyError, IndexError):
                    raise ValueError(f"{file}: tensor {key!r} does not fit the config (path {path})") from None
                try:
                    raw = f.get_tensor(key)
                except Exception as e:  # safetensors' own errors name neither the file nor the tensor
                    raise ValueError(f"{file}: cannot read tensor {key!r} ({type(e).__name__}: {e}); the file "
                                     "is truncated or corrupt: download or export it again") from e
                array = _TRANSFORMS[transform](raw)
                if tuple(array.shape) != tuple(expected):
                    raise ValueError(f"{file}: tensor {key!r} has shape {array.shape} after transform, "
                                     f"expected {expected} for {path}")
                _set(tree, path, place(path, array))
                seen.add(path)
    missing = [p for p, _, _ in path_to_hf_keys(cfg) if p not in seen]
    if missing:
        raise ValueError(f"{model_dir}: checkpoint lacks {len(missing)} tensors, e.g. {missing[:5]}")
    return tree


def export_hf_tensors(params: dict, cfg: ModelConfig, dtype) -> Iterator[Tuple[str, np.ndarray]]:
    """(HF key, numpy array) for every parameter, transposed back to HF's [out, in]."""
    from jaxpt.models.params import unstack_layers

    params = unstack_layers(params)
    for path, key, transform in path_to_hf_keys(cfg):
        array = np.asarray(_get(params, path)).astype(dtype)
        yield key, np.ascontiguousarray(_TRANSFORMS[transform](array))


def save_hf_params(params: dict, cfg: ModelConfig, out_dir, dtype=np.float32, shard_bytes: int = 5 << 30):
    """Writes model.safetensors, or numbered shards plus model.safetensors.index.json above `shard_bytes`."""
    from safetensors.numpy import save_file

    out_dir = pathlib.Path(out_dir)
    shards, current, size = [], {}, 0
    for key, array in export_hf_tensors(params, cfg, dtype):
        if current and size + array.nbytes > shard_bytes:
            shards.append(current)
            current, size = {}, 0
        current[key] = array
        size += array.nbytes
    shards.append(current)
    if len(shards) == 1:
        save_file(shards[0], str(out_dir / "model.safetensors"), metadata={"format": "pt"})
        return
    weight_map, total = {}, 0
    for n, shard in enumerate(shards, 1):
        name = f"model-{n:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(out_dir / name), metadata={"format": "pt"})
        for key, array in shard.items():
            weight_map[key] = name
            total += array.nbytes
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
