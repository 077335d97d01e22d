"""Host <-> device crossings of the RL loop, in one place and counted.

Every array the loop sends to or fetches from the accelerator goes through `to_device` / `to_host`, one call
per batch (a whole pytree at once), so `COUNTS` is the number of crossings each way. A step makes, per
generation round, one crossing each way for the sampler (prompts in, rollouts out), then one for the update
(the training batch in) and one for its metrics (out). Anything else the update would need (recomputed or
reference logprobs) stays on the device. tests/test_rl_learner.py runs a step under jax.transfer_guard
("disallow"), so an implicit transfer outside these functions fails the test.
"""
import collections

import jax
import numpy as np

COUNTS = collections.Counter()  # "to_device" / "to_host" -> calls


def _put(x, sharding):
    if sharding is None:
        return jax.device_put(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def to_device(tree, sharding=None):
    """numpy pytree -> device arrays, as one crossing. `sharding`: one for every leaf, or a tuple of them for a
    tuple `tree` (one per element); None = the default device."""
    COUNTS["to_device"] += 1
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    if isinstance(sharding, tuple):
        return tuple(jax.tree.map(lambda x, sh=sh: _put(np.asarray(x), sh), t) for t, sh in zip(tree, sharding))
    return jax.tree.map(lambda x: _put(np.asarray(x), sharding), tree)


def to_host(tree):
    """Device pytree -> numpy, as one crossing; across processes, batch-sharded arrays are gathered first (every
    process builds the same host batch, as the SFT loop does)."""
    COUNTS["to_host"] += 1
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
    return jax.tree.map(np.asarray, jax.device_get(tree))
