"""Training compute in FLOPs per step for each post-training paradigm (paper appendix E).

The model is duck-typed: any object with `num_layers, hidden_size, intermediate_size, vocab_size,
num_heads, num_kv_heads, head_dim` works (jaxpt.models.config.ModelConfig has exactly these names;
it is not imported so this module stays free of jax).

Conventions, all from the paper:
- a forward pass costs F_fwd(S) FLOPs per token at sequence length S, a backward pass twice that,
  so one training token costs 3 F_fwd and one generated token F_fwd;
- P_vocab counts the embedding and the LM head separately even when they are tied (the embedding
  lookup is not a matmul, but the paper counts it, and our check values must match the paper's).
"""
import dataclasses
from typing import Optional

EXA = 1e18  # 1 EFLOP


@dataclasses.dataclass(frozen=True)
class ModelDims:
    """The dimensions the FLOPs formula needs (a stand-in for ModelConfig in tests and scripts)."""
    num_layers: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: Optional[int] = None


QWEN25_7B = ModelDims(num_layers=28, hidden_size=3584, intermediate_size=18944, vocab_size=152064,
                      num_heads=28, num_kv_heads=4, head_dim=128)


def _head_dim(dims) -> int:
    # The paper writes d_h = H / n_h; a config may state head_dim explicitly (equal for Qwen2.5/Llama3).
    hd = getattr(dims, "head_dim", None)
    return int(hd) if hd else dims.hidden_size // dims.num_heads


def param_counts(dims) -> dict:
    """Matmul parameter counts per layer (mlp, attn) and for the vocabulary (embedding + head)."""
    H = dims.hidden_size
    d_h = _head_dim(dims)
    q_dim = dims.num_heads * d_h  # = H when d_h = H / n_h, as in the paper's H (H + 2 D_kv + H)
    d_kv = dims.num_kv_heads * d_h
    return {
        "mlp": 3 * H * dims.intermediate_size,  # gate, up, down
        "attn": H * (q_dim + 2 * d_kv + q_dim),  # q, k, v, o projections
        "vocab": 2 * dims.vocab_size * H,
    }


def forward_flops_per_token(dims, seq_len: float) -> float:
    """F_fwd(S) = 2 [L (P_mlp + P_attn) + P_vocab] + 4 S L H: matmuls plus attention scores/values."""
    p = param_counts(dims)
    L = dims.num_layers
    attn_width = dims.num_heads * _head_dim(dims)  # the paper's H
    return 2.0 * (L * (p["mlp"] + p["attn"]) + p["vocab"]) + 4.0 * seq_len * L * attn_width


def sft_step_flops(dims, batch: int, seq_len: float) -> float:
    """One SFT step: B sequences of mean length S, forward + backward (3 F_fwd per token)."""
    return 3.0 * batch * seq_len * forward_flops_per_token(dims, seq_len)


def grpo_step_flops(dims, batch: int, group: int, seq_len: float) -> float:
    """One GRPO step: generate B*G rollouts (1 F_fwd per token) and train on them (3 F_fwd)."""
    return 4.0 * batch * group * seq_len * forward_flops_per_token(dims, seq_len)


def dapo_step_flops(dims, gen_batch: int, train_batch: int, group: int, seq_len: float,
                    gen_rounds: float = 1.0) -> float:
    """One DAPO step: K rounds of dynamic-sampling generation of B_gen prompts, training on B_train.

    gen_rounds (K) may be fractional: the mean number of rounds a step needed.
    """
    tokens = (gen_rounds * gen_batch + 3.0 * train_batch) * group * seq_len
    return tokens * forward_flops_per_token(dims, seq_len)


def luffy_step_flops(dims, batch: int, group: int, seq_on: float, n_off: int, seq_off: float) -> float:
    """One LUFFY/SRFT step: 4 [B G S_on + B N S_off] F_fwd.

    On-policy rollouts are generated and trained (4 F_fwd per token); the paper charges expert tokens
    the same 4 F_fwd. Each part uses F_fwd at its own length (the paper's single F_fwd when equal).
    """
    on = batch * group * seq_on * forward_flops_per_token(dims, seq_on)
    off = batch * n_off * seq_off * forward_flops_per_token(dims, seq_off)
    return 4.0 * (on + off)


srft_step_flops = luffy_step_flops  # same accounting in the paper


def upt_step_flops(dims, batch: int, group: int, seq_on: float, n_on: int, n_off: int,
                   seq_off: float) -> float:
    """One UPT/HPT step: [G S_on + 3 (N_on S_on + N_off S_off)] F_fwd, summed over the step.

    All B prompts get G rollouts generated; n_on / n_off are the numbers of on-policy rollouts and
    expert trajectories actually trained in the step (the gate decides per prompt which ones).
    """
    f_on = forward_flops_per_token(dims, seq_on)
    f_off = forward_flops_per_token(dims, seq_off)
    return batch * group * seq_on * f_on + 3.0 * (n_on * seq_on * f_on + n_off * seq_off * f_off)


def to_eflops(flops: float) -> float:
    return flops / EXA
