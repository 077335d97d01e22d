"""jaxpt: JAX post-training (SFT then RL) for LLM math reasoning.

Top-level names are imported lazily so that light sub-packages (rewards, analysis) do not pull in jax.
"""
__version__ = "0.1.0"

_LAZY = {
    "Model": ("jaxpt.models.model", "Model"),
    "ModelConfig": ("jaxpt.models.config", "ModelConfig"),
    "load_pretrained": ("jaxpt.models.model", "load_pretrained"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'jaxpt' has no attribute {name!r}")
