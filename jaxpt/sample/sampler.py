"""`generate`: the sampler on a `Model` with Python lists of prompts; pads, buckets and returns numpy arrays.

Prompts are left padded to a length bucket and the batch to a batch bucket (see settings.py), so calls with
similar shapes reuse the compiled prefill/decode programs.
"""
import dataclasses
from typing import Optional, Sequence

import jax
import numpy as np

from jaxpt.parallel.rules import batch_divisor
from jaxpt.sample.core import sample
from jaxpt.sample.settings import SampleSettings, batch_bucket, length_bucket


@dataclasses.dataclass
class SampleOutput:
    """Rows prompt-major: prompt i's n samples are rows i*n .. i*n+n-1. N = max_new_tokens.

    tokens [R, N] int32: generated tokens; after a row's EOS (included, counted in lengths) come pad ids.
    lengths [R] int32; truncated [R] bool: no EOS within max_new_tokens.
    logprobs [R, N] float32: log_softmax(logits)[token] of the model itself (temperature 1, no top-k/top-p),
        what RL needs as old logprobs; 0 on padding.
    sampling_logprobs [R, N] float32: under the processed distribution actually sampled (0 when greedy).
    """
    tokens: np.ndarray
    lengths: np.ndarray
    logprobs: np.ndarray
    sampling_logprobs: np.ndarray
    truncated: np.ndarray
    n: int = 1

    def completions(self):
        """Each row's tokens up to its length (EOS included), as lists."""
        return [row[:length].tolist() for row, length in zip(self.tokens, self.lengths)]


def left_pad(prompt_ids: Sequence[Sequence[int]], length: int, batch: int, pad_id: int = 0):
    """[batch, length] tokens and 0/1 mask, prompts right-aligned; extra rows are all padding."""
    tokens = np.full((batch, length), pad_id, np.int32)
    mask = np.zeros((batch, length), np.int32)
    for i, ids in enumerate(prompt_ids):
        if len(ids) == 0:
            raise ValueError(f"prompt {i} is empty")
        if len(ids) > length:
            raise ValueError(f"prompt {i} has {len(ids)} tokens, more than the bucket {length}")
        tokens[i, length - len(ids):] = ids
        mask[i, length - len(ids):] = 1
    return tokens, mask


def generate(model, prompt_ids, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
             top_k: int = 0, n: int = 1, eos_ids: Optional[Sequence[int]] = None, seed: int = 0,
             pad_id: Optional[int] = None, pad_batch_to: int = 1) -> SampleOutput:
    """Samples `n` completions for each prompt (a list of token-id lists, any lengths).

    temperature 0 is greedy. eos_ids default to the model config's; pad_id to the first EOS id (else 0).
    The same seed and batch give the same samples. `pad_batch_to` pads the prompt batch to at least that
    many rows, so a short last batch reuses the full batches' compiled programs.
    """
    cfg = model.config
    eos = tuple(cfg.eos_token_ids if eos_ids is None else eos_ids)
    pad = int(pad_id if pad_id is not None else (eos[0] if eos else 0))
    settings = SampleSettings(max_new_tokens=int(max_new_tokens), temperature=temperature, top_p=top_p,
                              top_k=int(top_k), n=int(n), eos_ids=eos, pad_id=pad)
    prompt_ids = [list(map(int, p)) for p in prompt_ids]
    if not prompt_ids:
        raise ValueError("no prompts")
    length = length_bucket(max(len(p) for p in prompt_ids))
    # Prompt rows and sampled rows (prompts * n) must both split evenly over the mesh's batch axes.
    batch = batch_bucket(max(len(prompt_ids), pad_batch_to), batch_divisor(model.sharder))
    tokens, mask = left_pad(prompt_ids, length, batch, pad)
    if model.sharder is not None:
        rows = model.sharder.sharding(("batch", None))
        tokens, mask = jax.device_put(tokens, rows), jax.device_put(mask, rows)
    state = sample(model.params, cfg, tokens, mask, jax.random.key(seed), settings, model.sharder)
    real = len(prompt_ids) * settings.n
    get = lambda x: np.asarray(x)[:real]  # noqa: E731  (drop the batch-padding rows)
    return SampleOutput(tokens=get(state.tokens), lengths=get(state.lengths), logprobs=get(state.logprobs),
                        sampling_logprobs=get(state.sampling_logprobs), truncated=get(state.truncated),
                        n=settings.n)
