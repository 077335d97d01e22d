"""Model configuration shared by Qwen2.5 and Llama 3.x, plus the published presets.

One decoder serves both families; the differences are flags here (q/k/v biases, tied embeddings, RoPE
scaling, norm epsilon). The config is a frozen dataclass so it can be a static argument of jitted functions.
"""
import dataclasses
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    family: str = "qwen2"  # "qwen2" or "llama": selects the HF architecture name on export
    vocab_size: int = 151936
    hidden_size: int = 896
    intermediate_size: int = 4864
    num_layers: int = 24
    num_heads: int = 14
    num_kv_heads: int = 2
    head_dim: Optional[int] = None  # defaults to hidden_size // num_heads
    rope_theta: float = 1_000_000.0
    # RoPE frequency scaling: "default" (none), "linear" or "llama3".
    rope_type: str = "default"
    rope_factor: float = 1.0
    rope_low_freq_factor: float = 1.0
    rope_high_freq_factor: float = 4.0
    rope_original_max_position: int = 8192
    rms_norm_eps: float = 1e-6
    qkv_bias: bool = True
    tie_embeddings: bool = True
    max_position_embeddings: int = 32768
    bos_token_id: Optional[int] = None
    eos_token_ids: Tuple[int, ...] = ()
    pad_token_id: Optional[int] = None  # kept so an export round trip does not lose it
    # Numerics and memory.
    param_dtype: str = "float32"
    dtype: str = "float32"  # compute dtype of matmuls; norms, softmax and logits stay float32
    remat: str = "none"  # "none", "full" (recompute each block) or "dots" (save matmul outputs)
    scan_layers: bool = False  # stack layer params and lax.scan over them (faster compiles for big models)
    # "einsum": whole sequences (training, scoring) use models/attention.py (causal query blocks, hand-written
    # backward), a KV cache the einsum + softmax of layers.attention; "dot_product": jax.nn.dot_product_attention
    # everywhere (cuDNN on GPU); "chunked": whole sequences in query blocks under jax.checkpoint
    # (models/attention_chunked.py).
    attention_impl: str = "einsum"

    def __post_init__(self):
        if self.head_dim is None:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_heads)
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must be a multiple of num_kv_heads={self.num_kv_heads}")
        if self.family not in ("qwen2", "llama"):
            raise ValueError(f"family must be 'qwen2' or 'llama', got {self.family!r}")
        if self.rope_type not in ("default", "linear", "llama3"):
            raise ValueError(f"unsupported rope_type {self.rope_type!r} (default, linear, llama3)")
        if self.remat not in ("none", "full", "dots"):
            raise ValueError(f"remat must be none, full or dots, got {self.remat!r}")
        if self.attention_impl not in ("einsum", "dot_product", "chunked"):
            raise ValueError(f"attention_impl must be einsum, dot_product or chunked, got {self.attention_impl!r}")
        object.__setattr__(self, "eos_token_ids", tuple(self.eos_token_ids))

    def replace(self, **kw) -> "ModelConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {unknown}")
        return cls(**d)


_QWEN = dict(family="qwen2", qkv_bias=True, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
             bos_token_id=151643, eos_token_ids=(151645, 151643), max_position_embeddings=32768)
_QWEN_BIG_VOCAB = dict(_QWEN, vocab_size=152064, tie_embeddings=False, rms_norm_eps=1e-5)
_LLAMA32 = dict(family="llama", qkv_bias=False, vocab_size=128256, rope_theta=500_000.0,
                rms_norm_eps=1e-5, rope_type="llama3", rope_factor=32.0, rope_low_freq_factor=1.0,
                rope_high_freq_factor=4.0, rope_original_max_position=8192, tie_embeddings=True,
                bos_token_id=128000, eos_token_ids=(128001, 128008, 128009),
                max_position_embeddings=131072)

# Published architectures (config.json of the hub checkpoints).
PRESETS = {
    "qwen2.5-0.5b": ModelConfig(**dict(_QWEN, vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                       num_layers=24, num_heads=14, num_kv_heads=2, tie_embeddings=True)),
    "qwen2.5-1.5b": ModelConfig(**dict(_QWEN, vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                                       num_layers=28, num_heads=12, num_kv_heads=2, tie_embeddings=True)),
    "qwen2.5-3b": ModelConfig(**dict(_QWEN, vocab_size=151936, hidden_size=2048, intermediate_size=11008,
                                     num_layers=36, num_heads=16, num_kv_heads=2, tie_embeddings=True)),
    "qwen2.5-7b": ModelConfig(**dict(_QWEN_BIG_VOCAB, hidden_size=3584, intermediate_size=18944,
                                     num_layers=28, num_heads=28, num_kv_heads=4, rms_norm_eps=1e-6)),
    "qwen2.5-14b": ModelConfig(**dict(_QWEN_BIG_VOCAB, hidden_size=5120, intermediate_size=13824,
                                      num_layers=48, num_heads=40, num_kv_heads=8)),
    "qwen2.5-32b": ModelConfig(**dict(_QWEN_BIG_VOCAB, hidden_size=5120, intermediate_size=27648,
                                      num_layers=64, num_heads=40, num_kv_heads=8)),
    "qwen2.5-72b": ModelConfig(**dict(_QWEN_BIG_VOCAB, hidden_size=8192, intermediate_size=29568,
                                      num_layers=80, num_heads=64, num_kv_heads=8, rms_norm_eps=1e-6)),
    "llama3.2-1b": ModelConfig(**dict(_LLAMA32, hidden_size=2048, intermediate_size=8192, num_layers=16,
                                      num_heads=32, num_kv_heads=8, head_dim=64)),
    "llama3.2-3b": ModelConfig(**dict(_LLAMA32, hidden_size=3072, intermediate_size=8192, num_layers=28,
                                      num_heads=24, num_kv_heads=8, head_dim=128)),
    "llama3.1-8b": ModelConfig(**dict(_LLAMA32, hidden_size=4096, intermediate_size=14336, num_layers=32,
                                      num_heads=32, num_kv_heads=8, head_dim=128, rope_factor=8.0,
                                      tie_embeddings=False)),
    # Tiny configs for tests and the embedded task (random weights only).
    "tiny-qwen": ModelConfig(**dict(_QWEN, vocab_size=256, hidden_size=64, intermediate_size=160,
                                    num_layers=2, num_heads=4, num_kv_heads=2, tie_embeddings=False,
                                    bos_token_id=None, eos_token_ids=(1,), max_position_embeddings=2048)),
    "tiny-llama": ModelConfig(**dict(_LLAMA32, vocab_size=256, hidden_size=64, intermediate_size=160,
                                     num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16, rope_factor=8.0,
                                     rope_original_max_position=64, bos_token_id=None, eos_token_ids=(1,),
                                     max_position_embeddings=2048)),
}


def get_config(preset_or_config, **overrides) -> ModelConfig:
    """Resolves a preset name, a ModelConfig or a dict (optionally with a 'preset' key) to a ModelConfig."""
    if isinstance(preset_or_config, ModelConfig):
        cfg = preset_or_config
    elif isinstance(preset_or_config, str):
        key = preset_or_config.lower()
        if key not in PRESETS:
            raise ValueError(f"unknown model preset {preset_or_config!r}; known: {sorted(PRESETS)}")
        cfg = PRESETS[key]
    elif isinstance(preset_or_config, dict):
        d = dict(preset_or_config)
        preset = d.pop("preset", None)
        base = get_config(preset) if preset else None
        if base is None:
            return ModelConfig.from_dict({**d, **overrides})
        cfg, overrides = base, {**d, **overrides}
    else:
        raise TypeError(f"cannot build a ModelConfig from {type(preset_or_config).__name__}")
    return cfg.replace(**overrides) if overrides else cfg
