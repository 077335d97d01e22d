"""What every stage resolves first: the initial model (HF directory, jaxpt checkpoint or preset), its
tokenizer, and the check that the two fit.

model.init_from is one of
    a preset name (jaxpt.models.config.PRESETS)   random init; model.overrides change its fields
    a jaxpt model checkpoint directory             (jaxpt_model.json; carries its tokenizer files)
    a Hugging Face directory                       (config.json + safetensors; tokenizer files beside)
The tokenizer is the model's own unless `tokenizer` names another. A preset has none: it takes the toy
tokenizer when the job trains on the toy task, else `tokenizer` must be set.
"""
import json
import math
import pathlib

from jaxpt.data.tokenizer import load_tokenizer, stop_token_ids, tokenizer_dir
from jaxpt.models.checkpoint import META, checkpoint_tokenizer_dir, is_jaxpt_checkpoint
from jaxpt.models.config import PRESETS, ModelConfig, get_config
from jaxpt.models.hf_config import read_hf_config

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


class SetupError(ValueError):
    pass


def init_kind(init_from: str) -> str:
    """'preset', 'jaxpt' or 'hf'; a path that is neither fails here, naming the config key."""
    spec = str(init_from)
    if spec.lower() in PRESETS:
        return "preset"
    path = pathlib.Path(spec).expanduser()
    if is_jaxpt_checkpoint(path):
        return "jaxpt"
    if (path / "config.json").is_file():
        return "hf"
    if path.exists():
        raise SetupError(f"model.init_from = {spec!r}: neither a jaxpt checkpoint ({META}) nor a Hugging Face "
                         "directory (config.json)")
    raise SetupError(f"model.init_from = {spec!r}: no such directory, and not a preset (presets: "
                     f"{', '.join(sorted(PRESETS))})")


def uses_toy(cfg) -> bool:
    d = cfg.data
    return "toy" in (d.sft.source, d.rl.source, d.expert.source, cfg.eval.source)


def resolve_tokenizer(cfg):
    """The tokenizer directory (or hub name) of a config tree."""
    if cfg.tokenizer:
        return tokenizer_dir(cfg.tokenizer)
    kind = init_kind(cfg.model.init_from)
    if kind == "jaxpt":
        tok = checkpoint_tokenizer_dir(cfg.model.init_from)
        if tok is None:
            raise SetupError(f"model.init_from = {cfg.model.init_from!r} is a jaxpt checkpoint without tokenizer "
                             "files: set tokenizer")
        return tokenizer_dir(tok)
    if kind == "hf":
        path = pathlib.Path(cfg.model.init_from)
        if not any((path / f).is_file() for f in TOKENIZER_FILES):
            raise SetupError(f"model.init_from = {str(path)!r} has no tokenizer files: set tokenizer")
        return path
    if uses_toy(cfg):
        return tokenizer_dir("toy")
    raise SetupError(f"model.init_from = {cfg.model.init_from!r} is a preset (random weights) and has no "
                     "tokenizer: set tokenizer (e.g. 'qwen2.5', 'smollm2' or a directory)")


def resolve_model_config(cfg, tokenizer) -> ModelConfig:
    """The ModelConfig a stage trains, with the config's dtypes and memory options, checked against the
    tokenizer."""
    mc = cfg.model
    kind = init_kind(mc.init_from)
    if kind == "jaxpt":
        base = ModelConfig.from_dict(json.loads((pathlib.Path(mc.init_from) / META).read_text())["config"])
    elif kind == "hf":
        base = read_hf_config(pathlib.Path(mc.init_from))
    else:
        overrides = dict(mc.overrides.to_dict() if hasattr(mc.overrides, "to_dict") else mc.overrides)
        if not overrides.get("vocab_size"):
            m = max(1, int(mc.vocab_multiple))
            overrides["vocab_size"] = int(math.ceil(len(tokenizer) / m) * m)
        if "eos_token_ids" not in overrides:
            overrides["eos_token_ids"] = tuple(stop_token_ids(tokenizer))
        overrides.setdefault("bos_token_id", tokenizer.bos_token_id)
        overrides.setdefault("pad_token_id", tokenizer.pad_token_id)
        base = get_config(mc.init_from.lower(), **overrides)
    if kind != "preset" and len(mc.overrides):
        raise SetupError(f"model.overrides = {mc.overrides.to_dict()} only applies to a preset; model.init_from "
                         f"= {mc.init_from!r} is a trained model")
    over = dict(param_dtype=mc.param_dtype, dtype=mc.dtype, remat=mc.remat, scan_layers=bool(mc.scan_layers))
    if mc.attention_impl:
        over["attention_impl"] = mc.attention_impl
    out = base.replace(**over)
    check_tokenizer_fits(tokenizer, out, cfg.tokenizer or "(the model's own)", pretrained=kind != "preset")
    return out


def check_tokenizer_fits(tokenizer, mcfg: ModelConfig, name: str, pretrained: bool) -> None:
    """A tokenizer with more tokens than the embedding, or (for trained weights) far fewer, is not this
    model's: fail now rather than train on wrong ids."""
    n, v = len(tokenizer), int(mcfg.vocab_size)
    if n > v:
        raise SetupError(f"tokenizer {name} has {n} tokens but the model's vocabulary has {v}: it does not fit "
                         "this model")
    # Trained models pad their vocabulary to a multiple (Qwen2.5: 151665 tokens in 151936 rows); a tokenizer
    # using a small part of it belongs to another model.
    if pretrained and n < 0.9 * v and v - n > 1024:
        raise SetupError(f"tokenizer {name} has {n} tokens but the model's vocabulary has {v}: it is not this "
                         "model's tokenizer (leave `tokenizer` empty to use the model's own)")
    eos = tokenizer.eos_token_id
    if eos is not None and eos >= v:
        raise SetupError(f"tokenizer {name}: eos id {eos} is outside the model's vocabulary of {v}")


def initial_params(cfg, mcfg: ModelConfig, sharder, seed: int):
    """Parameters of model.init_from (loaded) or random (preset), placed with the sharder's shardings."""
    from jaxpt.models.checkpoint import load_model
    from jaxpt.models.model import Model

    mc = cfg.model
    if init_kind(mc.init_from) == "preset":
        return Model.from_config(mcfg, seed=seed, mesh=sharder).params
    extra = dict(remat=mcfg.remat, attention_impl=mcfg.attention_impl)
    if is_jaxpt_checkpoint(mc.init_from):
        model = load_model(mc.init_from, mesh=sharder, param_dtype=mc.param_dtype, dtype=mc.dtype, **extra)
        if model.config.scan_layers != mcfg.scan_layers:  # saved with the other layer layout
            from jaxpt.models.params import stack_layers, unstack_layers

            import jax

            params = (stack_layers if mcfg.scan_layers else unstack_layers)(model.params)
            from jaxpt.models.model import param_shardings

            return jax.device_put(params, param_shardings(mcfg, sharder)) if sharder is not None else params
        return model.params
    return load_model(mc.init_from, dtype=mc.param_dtype, mesh=sharder, compute_dtype=mc.dtype,
                      scan_layers=mcfg.scan_layers, **extra).params


def load_stage_tokenizer(cfg):
    """(tokenizer directory, tokenizer) of a config tree."""
    tok_dir = resolve_tokenizer(cfg)
    return tok_dir, load_tokenizer(tok_dir)
