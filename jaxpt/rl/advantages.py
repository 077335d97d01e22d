"""Advantage estimators over groups of responses to one prompt (host side, numpy).

Every estimator has the signature

    fn(rewards [P, K] float, valid [P, K] bool, eps: float) -> advantages [P, K] float32

where row p holds the K responses of prompt p (on-policy rollouts and, for LUFFY/SRFT, expert trajectories
in the same group) and `valid` masks out padding slots (their advantage is 0). Sequence-level advantages
are broadcast to every token of the response by the loss.
"""
import numpy as np

from jaxpt.utils.registry import Registry

ADVANTAGES = Registry("advantage estimator")


def _group_stats(rewards, valid):
    r = np.asarray(rewards, np.float64)
    v = np.asarray(valid, bool)
    n = v.sum(axis=1, keepdims=True)
    mean = np.where(v, r, 0.0).sum(axis=1, keepdims=True) / np.maximum(n, 1)
    dev = np.where(v, r - mean, 0.0)
    # Unbiased (n - 1) standard deviation, as GRPO (torch.std) uses; 0 for groups of one.
    std = np.sqrt((dev ** 2).sum(axis=1, keepdims=True) / np.maximum(n - 1, 1))
    std = np.where(n > 1, std, 0.0)
    return r, v, n, mean, dev, std


@ADVANTAGES.register("grpo")
def grpo_advantages(rewards, valid, eps: float = 1e-6):
    """A_i = (R_i - mean R) / (std R + eps) within each group (std unbiased)."""
    _, v, _, _, dev, std = _group_stats(rewards, valid)
    return np.where(v, dev / (std + eps), 0.0).astype(np.float32)


@ADVANTAGES.register("drgrpo")
def drgrpo_advantages(rewards, valid, eps: float = 1e-6):
    """Dr.GRPO: A_i = R_i - mean R (no division by the standard deviation)."""
    del eps
    _, v, _, _, dev, _ = _group_stats(rewards, valid)
    return np.where(v, dev, 0.0).astype(np.float32)


# LUFFY (and SRFT's off-policy term): the group is on-policy rollouts plus expert trajectories; the batch
# builder puts both in the K columns, so the estimator itself is the no-std one over the whole group.
ADVANTAGES.register("luffy", drgrpo_advantages)
ADVANTAGES.register("mean", drgrpo_advantages)


@ADVANTAGES.register("rloo")
def rloo_advantages(rewards, valid, eps: float = 1e-6):
    """Leave-one-out baseline: A_i = R_i - mean_{j != i} R_j."""
    del eps
    r, v, n, _, _, _ = _group_stats(rewards, valid)
    total = np.where(v, r, 0.0).sum(axis=1, keepdims=True)
    others = (total - r) / np.maximum(n - 1, 1)
    return np.where(v & (n > 1), r - others, 0.0).astype(np.float32)


@ADVANTAGES.register("reward")
def raw_reward_advantages(rewards, valid, eps: float = 1e-6):
    """No baseline: A_i = R_i (REINFORCE; SRFT's positive/negative split reads the sign of the reward)."""
    del eps
    return np.where(np.asarray(valid, bool), np.asarray(rewards, np.float64), 0.0).astype(np.float32)


def compute_advantages(name: str, rewards, valid, eps: float = 1e-6) -> np.ndarray:
    return ADVANTAGES.get(name)(rewards, valid, eps)
