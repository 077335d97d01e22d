"""Logits processing for one decode step: temperature, top-k, top-p, the chosen token and its logprobs."""
import jax
import jax.numpy as jnp

from jaxpt.sample.settings import SampleSettings


def _top_p_threshold(sorted_desc, top_p: float):
    """Smallest logit kept by nucleus filtering, from logits sorted in descending order [B, K]."""
    probs = jax.nn.softmax(sorted_desc, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs  # mass strictly above each token
    keep = before < top_p  # the smallest prefix whose mass reaches top_p (the first token always kept)
    return jnp.min(jnp.where(keep, sorted_desc, jnp.inf), axis=-1, keepdims=True)


def process_logits(logits, s: SampleSettings):
    """[B, V] float32 logits -> the sampling distribution's logits (filtered entries at -inf)."""
    x = logits / s.temperature
    vocab = x.shape[-1]
    top = None
    if 0 < s.top_k < vocab:
        top = jax.lax.top_k(x, s.top_k)[0]  # sorted descending; reused by top-p (no full-vocab sort)
        x = jnp.where(x < top[:, -1:], -jnp.inf, x)
    if s.top_p < 1.0:
        if top is None:
            top = -jnp.sort(-x, axis=-1)
        x = jnp.where(x < _top_p_threshold(top, s.top_p), -jnp.inf, x)
    return x


# Vocabulary block of the two-level inverse-CDF search (see sample_inverse_cdf).
_CDF_BLOCK = 128


def first_argmax(x, peak=None):
    """argmax over the last axis (the first index on ties) as a min over an iota: about 3x cheaper than
    jnp.argmax on CPU, whose (value, index) pair reduction XLA does not vectorise. `peak`: the row maxima
    [..., 1] when the caller has them already. A row with NaNs (no entry equals its max) gives the last index
    rather than an out-of-range one."""
    if peak is None:
        peak = x.max(axis=-1, keepdims=True)
    iota = jax.lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1)
    first = jnp.min(jnp.where(x == peak, iota, x.shape[-1]), axis=-1)
    return jnp.minimum(first, x.shape[-1] - 1)


def sample_inverse_cdf(processed, key):
    """One categorical draw per row by inverting the CDF with a single uniform per row.

    Returns (token [B] int32, logsumexp(processed) [B]). Exact categorical sampling (up to float32 rounding
    of the CDF) at a fraction of the cost of the Gumbel trick, which needs a random number per vocabulary
    entry (~2 ms per step at batch 16 x 8k vocab on CPU). The search is two-level, so no full-vocabulary
    cumsum is needed (on CPU that cumsum costs more than the rest of the sampler together): block masses
    of _CDF_BLOCK entries, the block where the cumulative mass crosses u, then the entry inside that block.
    A filtered (-inf, zero mass) entry is never drawn: if float rounding lands the search on one, the row
    takes its most likely token instead.
    """
    b, v = processed.shape
    peak = processed.max(axis=-1, keepdims=True)
    mass = jnp.exp(processed - peak)  # unnormalised probabilities; filtered entries are exactly 0
    nb = -(-v // _CDF_BLOCK)
    blocks = jnp.pad(mass, ((0, 0), (0, nb * _CDF_BLOCK - v))).reshape(b, nb, _CDF_BLOCK)
    block_cdf = jnp.cumsum(blocks.sum(axis=-1), axis=-1)  # [B, nb]
    total = block_cdf[:, -1]
    u = jax.random.uniform(key, (b,), jnp.float32) * total
    j = jnp.minimum(jnp.sum(block_cdf <= u[:, None], axis=-1, dtype=jnp.int32), nb - 1)
    prev = jnp.take_along_axis(block_cdf, jnp.maximum(j - 1, 0)[:, None], axis=-1)[:, 0]
    before = jnp.where(j > 0, prev, 0.0)  # mass of the blocks before block j
    local = jnp.take_along_axis(blocks, j[:, None, None], axis=1)[:, 0]  # [B, block]
    local_cdf = before[:, None] + jnp.cumsum(local, axis=-1)
    i = jnp.minimum(jnp.sum(local_cdf <= u[:, None], axis=-1, dtype=jnp.int32), _CDF_BLOCK - 1)
    token = jnp.minimum(j * _CDF_BLOCK + i, v - 1)
    ok = jnp.take_along_axis(mass, token[:, None], axis=-1)[:, 0] > 0
    # (A jnp.where, not lax.cond: on GPUs a cond predicate is read on the host every step.)
    token = jnp.where(ok, token, first_argmax(processed, peak))
    return token.astype(jnp.int32), peak[:, 0] + jnp.log(total)


def choose(logits, key, s: SampleSettings):
    """Returns (token [B], model logprob [B], sampling logprob [B]).

    model logprob = log_softmax(logits)[token] at temperature 1 without filtering: the policy's own
    probability of the token, which RL uses as the "old" logprob. sampling logprob is under the processed
    distribution actually sampled from (0 for greedy).
    """
    plain = s.temperature == 1.0 and s.top_k == 0 and s.top_p == 1.0  # processed == logits
    if s.greedy:
        token = first_argmax(logits)
        lse = jax.nn.logsumexp(logits, axis=-1)  # log_softmax at the chosen token only: no [B, V] output
        model_lp = jnp.take_along_axis(logits, token[:, None], axis=-1)[:, 0] - lse
        return token, model_lp, jnp.zeros(token.shape, jnp.float32)
    processed = logits if plain else process_logits(logits, s)
    token, processed_lse = sample_inverse_cdf(processed, key)
    picked = jnp.take_along_axis(processed, token[:, None], axis=-1)[:, 0]
    if plain:
        lp = picked - processed_lse  # the processed distribution is the model's own
        return token, lp, lp
    model_lp = jnp.take_along_axis(logits, token[:, None], axis=-1)[:, 0] - jax.nn.logsumexp(logits, axis=-1)
    return token, model_lp, picked - processed_lse


def is_eos(token, eos):
    """token [B] in eos (an int32 array; -1 entries never match a token)."""
    return jnp.any(token[:, None] == eos[None, :], axis=-1)
