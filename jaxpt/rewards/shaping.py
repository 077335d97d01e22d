"""Reward shaping on top of the verifier's verdict (host side, numpy): the rule reward and DAPO's overlong
punishment. The RL rollout adds them up per response (jaxpt.rl.rollout)."""
import numpy as np


def rule_rewards(correct, reward_correct: float = 1.0, reward_wrong: float = 0.0) -> np.ndarray:
    return np.where(np.asarray(correct, bool), reward_correct, reward_wrong).astype(np.float32)


def overlong_shaping(lengths, max_len: int, cache_len: int) -> np.ndarray:
    """DAPO soft overlong punishment by token length |y|:
        0                                   |y| <= L_max - L_cache
        ((L_max - L_cache) - |y|) / L_cache L_max - L_cache < |y| <= L_max
        -1                                  |y| > L_max
    """
    y = np.asarray(lengths, np.float64)
    if cache_len <= 0:
        return np.where(y > max_len, -1.0, 0.0).astype(np.float32)
    start = max_len - cache_len
    band = (start - y) / cache_len
    out = np.where(y <= start, 0.0, np.where(y <= max_len, band, -1.0))
    return out.astype(np.float32)


def shaped_rewards(correct, lengths, reward_correct: float = 1.0, reward_wrong: float = 0.0,
                   overlong: bool = False, max_len: int = 0, cache_len: int = 0, penalty: float = 1.0) -> np.ndarray:
    """The rule reward, plus penalty x overlong_shaping(lengths) when `overlong` (float32 [n])."""
    reward = rule_rewards(correct, reward_correct, reward_wrong)
    if overlong:
        reward = reward + float(penalty) * overlong_shaping(lengths, int(max_len), int(cache_len))
    return reward.astype(np.float32)
