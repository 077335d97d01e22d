"""The decode loop's state: one pytree, carried through lax.while_loop and donated between jitted calls."""
from typing import List, Tuple

import jax
from flax import struct


@struct.dataclass
class SampleState:
    """Rows are prompt-major (prompt i's samples are rows i*n .. i*n+n-1); R rows, N = max_new_tokens,
    S = cache slots (prompt bucket P + generated-token chunks, >= P + N - 1).

    tokens [R, N] int32            sampled tokens (pad after EOS)
    logprobs [R, N] float32        log_softmax(logits)[token]: the model at temperature 1, unfiltered (0 on pad)
    sampling_logprobs [R, N] f32   log prob under the processed (temperature/top-k/top-p) distribution
    k, v: per layer, a tuple of cache chunks, K transposed [R, n_kv, d, C_i], V [R, n_kv, C_i, d]: chunk 0
                                   the prompt (C_0 = P), then the generated tokens' chunks (separate buffers:
                                   updated in place, never re-stacked)
    mask [R, S] bool               slots holding real tokens
    positions [R] int32            RoPE position of the next token fed
    last [R] int32                 the last sampled token (the next step's input)
    done [R] bool                  emitted EOS, or an empty (batch padding) row
    lengths [R] int32              tokens emitted, EOS included
    step int32 scalar              tokens sampled so far (column of the next token)
    rng                            base key; step t uses fold_in(rng, t)
    hidden [R, H]                  final hidden state of each row's last prompt token (gives token 0)
    """
    tokens: jax.Array
    logprobs: jax.Array
    sampling_logprobs: jax.Array
    k: List[Tuple[jax.Array, ...]]
    v: List[Tuple[jax.Array, ...]]
    mask: jax.Array
    positions: jax.Array
    last: jax.Array
    done: jax.Array
    lengths: jax.Array
    step: jax.Array
    rng: jax.Array
    hidden: jax.Array

    @property
    def truncated(self):
        """Rows that used all max_new_tokens without emitting EOS."""
        return ~self.done
