"""Hugging Face config.json <-> ModelConfig.

Hub checkpoints of Qwen2.5 and Llama 3.2 carry top-level `rope_theta`/`rope_scaling` and `torch_dtype`;
transformers 5 writes `rope_parameters` (theta and type inside) and `dtype`. Both are read.
"""
import json
import pathlib

from jaxpt.models.config import ModelConfig

_FAMILIES = {"qwen2": ("qwen2", "Qwen2ForCausalLM"), "llama": ("llama", "LlamaForCausalLM")}


def config_from_hf(hf: dict, source: str = "config.json", **overrides) -> ModelConfig:
    model_type = hf.get("model_type")
    if model_type not in _FAMILIES:
        raise ValueError(f"{source}: field 'model_type' is {model_type!r}; supported: {sorted(_FAMILIES)}")
    for field in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
        if field not in hf:
            raise ValueError(f"{source}: missing field {field!r}")
    rope = dict(hf.get("rope_scaling") or {})
    params = hf.get("rope_parameters") or {}
    if params:
        rope = {**params, **rope}
    theta = hf.get("rope_theta", params.get("rope_theta", 10000.0))
    rope_type = rope.get("rope_type", rope.get("type", "default")) or "default"
    if rope_type not in ("default", "linear", "llama3"):
        raise ValueError(f"{source}: field 'rope_scaling.rope_type' = {rope_type!r} is not supported")
    eos = hf.get("eos_token_id")
    eos = tuple(eos) if isinstance(eos, (list, tuple)) else (() if eos is None else (eos,))
    qkv_bias = model_type == "qwen2" or bool(hf.get("attention_bias", False))
    if hf.get("mlp_bias"):
        raise ValueError(f"{source}: field 'mlp_bias' = true is not supported")
    kw = dict(
        family=model_type,
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        intermediate_size=hf["intermediate_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        num_kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"],
        head_dim=hf.get("head_dim") or hf["hidden_size"] // hf["num_attention_heads"],
        rope_theta=float(theta),
        rope_type=rope_type,
        rope_factor=float(rope.get("factor", 1.0)),
        rope_low_freq_factor=float(rope.get("low_freq_factor", 1.0)),
        rope_high_freq_factor=float(rope.get("high_freq_factor", 4.0)),
        rope_original_max_position=int(rope.get("original_max_position_embeddings", 8192)),
        rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        qkv_bias=qkv_bias,
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        max_position_embeddings=int(hf.get("max_position_embeddings", 32768)),
        bos_token_id=hf.get("bos_token_id"),
        eos_token_ids=eos,
        pad_token_id=hf.get("pad_token_id"),
    )
    kw.update(overrides)
    return ModelConfig(**kw)


def eos_field(cfg: ModelConfig):
    """HF's eos_token_id: one id, or a list when the model stops on several."""
    return list(cfg.eos_token_ids) if len(cfg.eos_token_ids) > 1 else (
        cfg.eos_token_ids[0] if cfg.eos_token_ids else None)


def generation_config(cfg: ModelConfig) -> dict:
    """generation_config.json for an export that has none: the ids transformers' generate() stops and pads on."""
    out = {"bos_token_id": cfg.bos_token_id, "eos_token_id": eos_field(cfg), "pad_token_id": cfg.pad_token_id}
    return {k: v for k, v in out.items() if v is not None}


def config_to_hf(cfg: ModelConfig, dtype: str = "float32") -> dict:
    model_type, arch = _FAMILIES[cfg.family]
    hf = {
        "architectures": [arch],
        "model_type": model_type,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "tie_word_embeddings": cfg.tie_embeddings,
        "torch_dtype": dtype,
        "use_cache": True,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": eos_field(cfg),
        "pad_token_id": cfg.pad_token_id,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
    }
    if cfg.rope_type != "default":
        scaling = {"rope_type": cfg.rope_type, "factor": cfg.rope_factor}
        if cfg.rope_type == "llama3":
            scaling.update(low_freq_factor=cfg.rope_low_freq_factor, high_freq_factor=cfg.rope_high_freq_factor,
                           original_max_position_embeddings=cfg.rope_original_max_position)
        hf["rope_scaling"] = scaling
    if cfg.family == "llama":
        hf.update(attention_bias=cfg.qkv_bias, mlp_bias=False, pretraining_tp=1)
    else:
        hf.update(use_sliding_window=False, sliding_window=None, max_window_layers=cfg.num_layers)
    return hf


def read_hf_config(path, **overrides) -> ModelConfig:
    file = pathlib.Path(path) / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no config.json in the model directory")
    try:
        hf = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{file}: line {e.lineno}: invalid JSON ({e.msg})") from e
    return config_from_hf(hf, str(file), **overrides)
