"""Tiny random transformers models (torch, CPU) for parity tests, with biases and norm weights randomised:
HF initialises them to 0 and 1, which would hide bugs in their handling."""
import pathlib

from jaxpt.models.config import get_config
from jaxpt.models.hf_config import config_to_hf


def make_hf_model(preset: str, out_dir, seed: int = 0, **overrides):
    import torch
    import transformers

    cfg = get_config(preset, **overrides)
    hf_cfg_dict = config_to_hf(cfg)
    hf_cfg = transformers.AutoConfig.for_model(**hf_cfg_dict)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(hf_cfg, dtype=torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
    model.eval()
    out_dir = pathlib.Path(out_dir)
    model.save_pretrained(out_dir)
    return model, cfg
