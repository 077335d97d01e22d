"""Host-side batch construction (numpy): rollout rounds, dynamic sampling's group selection, and the fixed-shape
training batch that mixes rollouts with expert trajectories (reward shaping: jaxpt.rewards.shaping; the split
into the update's micro-batches: jaxpt.rl.microbatch).

Rows of a rollout round are prompt-major (prompt i's G samples are rows i*G .. i*G+G-1), as the sampler
returns them. The training batch always has train_prompts * group_width rows, prompt tokens left padded to
the prompt bucket and responses right padded to max_new_tokens; rows that carry nothing (a group that
dynamic sampling could not fill, UPT's unused slots) have an all-zero mask (the update leaves them out).
"""
import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np

from jaxpt.rl.advantages import compute_advantages


# --------------------------------------------------------------------------------------------- rollouts
@dataclasses.dataclass
class Round:
    """One generation round: `prompts` records (indices into the prompt set) x G samples each."""
    prompt_ids: np.ndarray  # [P] indices into the prompt set
    prompt_tokens: np.ndarray  # [P, Lp] left padded
    prompt_mask: np.ndarray  # [P, Lp]
    tokens: np.ndarray  # [P*G, N]
    old_logp: np.ndarray  # [P*G, N] behaviour logprobs at the training temperature (or sampler's T=1 ones)
    sampler_logp: np.ndarray  # [P*G, N] the sampler's model logprob (temperature 1)
    lengths: np.ndarray  # [P*G]
    truncated: np.ndarray  # [P*G] bool
    group: int
    correct: Optional[np.ndarray] = None  # [P*G] bool, once scored
    reward: Optional[np.ndarray] = None  # [P*G] float, once scored (rule reward + shaping)
    texts: Optional[List[str]] = None

    @property
    def num_prompts(self) -> int:
        return len(self.prompt_ids)

    def group_values(self, metric: str) -> np.ndarray:
        v = self.correct.astype(np.float32) if metric == "acc" else self.reward
        return v.reshape(self.num_prompts, self.group)


def informative_groups(values: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """[P] bool: groups whose values are not all equal (DAPO dynamic sampling keeps these)."""
    values = np.asarray(values, np.float64)
    return (values.max(axis=1) - values.min(axis=1)) > tol


def select_groups(rounds: Sequence[Round], want: int, dynamic: bool, metric: str = "acc"):
    """(kept [(round index, prompt index)], number of informative groups seen). Without dynamic sampling
    every group of the first round is kept (up to `want`)."""
    kept, informative = [], 0
    for ri, rnd in enumerate(rounds):
        keep = informative_groups(rnd.group_values(metric)) if dynamic else np.ones(rnd.num_prompts, bool)
        informative += int(informative_groups(rnd.group_values(metric)).sum())
        for p in np.nonzero(keep)[0]:
            if len(kept) < want:
                kept.append((ri, int(p)))
    return kept, informative


# --------------------------------------------------------------------------------------------- batch
@dataclasses.dataclass
class BatchSpec:
    train_prompts: int
    group: int  # on-policy rollouts per prompt
    num_expert: int  # expert rows per prompt (mixed mode)
    prompt_len: int
    max_new_tokens: int
    pad_id: int
    batch_mode: str = "rollouts"  # rollouts | mixed | gated
    advantage: str = "grpo"
    adv_eps: float = 1e-6
    upt_gate: int = 0
    overlong_filter: bool = False
    expert_reward: float = 1.0

    @property
    def width(self) -> int:
        return self.group + (self.num_expert if self.batch_mode == "mixed" else 0)

    @property
    def rows(self) -> int:
        return self.train_prompts * self.width


def _expert_row(ids: np.ndarray, n: int, pad_id: int):
    """Expert response tokens padded/truncated to n; (tokens [n], mask [n])."""
    ids = np.asarray(ids, np.int32)[:n]
    tok = np.full(n, pad_id, np.int32)
    tok[:len(ids)] = ids
    mask = np.zeros(n, np.float32)
    mask[:len(ids)] = 1.0
    return tok, mask


def assemble(spec: BatchSpec, rounds: Sequence[Round], kept, expert_ids=None) -> Dict[str, np.ndarray]:
    """The training batch (numpy) from the kept groups.

    expert_ids(prompt index) -> list of expert response token lists (mixed / gated modes).
    Returns arrays: tokens [R, Lp+N] int32, attn [R, Lp+N] int32, mask [R, N] f32, old_logp [R, N],
    sampler_logp [R, N], adv [R], reward [R], correct [R], off [R], sft [R], and `info` counts (python).
    """
    R, N, Lp, W, G = spec.rows, spec.max_new_tokens, spec.prompt_len, spec.width, spec.group
    tokens = np.full((R, Lp + N), spec.pad_id, np.int32)
    attn = np.zeros((R, Lp + N), np.int32)
    mask = np.zeros((R, N), np.float32)
    old_logp = np.zeros((R, N), np.float32)
    sampler_logp = np.zeros((R, N), np.float32)
    reward = np.zeros((R,), np.float32)
    correct = np.zeros((R,), np.float32)
    off = np.zeros((R,), np.float32)
    sft = np.zeros((R,), np.float32)
    valid = np.zeros((spec.train_prompts, W), bool)  # slots taking part in the advantage
    info = {"expert_rows": 0, "sft_rows": 0, "onpolicy_rows": 0, "gated_prompts": 0, "filtered_rows": 0}
    for slot, (ri, p) in enumerate(kept):
        rnd = rounds[ri]
        base = slot * W
        src = slice(p * G, p * G + G)
        resp = rnd.tokens[src]
        lens = rnd.lengths[src]
        prompt_tok, prompt_mask = rnd.prompt_tokens[p], rnd.prompt_mask[p]
        rows = slice(base, base + G)
        tokens[rows, :Lp] = prompt_tok
        attn[rows, :Lp] = prompt_mask
        tokens[rows, Lp:] = resp
        resp_mask = (np.arange(N)[None, :] < lens[:, None]).astype(np.float32)
        attn[rows, Lp:] = resp_mask.astype(np.int32)
        loss_mask = resp_mask.copy()
        if spec.overlong_filter:
            trunc = rnd.truncated[src]
            loss_mask[trunc] = 0.0
            info["filtered_rows"] += int(trunc.sum())
        mask[rows] = loss_mask
        old_logp[rows] = rnd.old_logp[src]
        sampler_logp[rows] = rnd.sampler_logp[src]
        reward[rows] = rnd.reward[src]
        correct[rows] = rnd.correct[src].astype(np.float32)
        valid[slot, :G] = True
        info["onpolicy_rows"] += G
        if spec.batch_mode == "mixed":
            experts = expert_ids(int(rnd.prompt_ids[p]))
            for e in range(spec.num_expert):
                r = base + G + e
                etok, emask = _expert_row(experts[e % len(experts)], N, spec.pad_id)
                tokens[r, :Lp], attn[r, :Lp] = prompt_tok, prompt_mask
                tokens[r, Lp:], attn[r, Lp:] = etok, emask.astype(np.int32)
                mask[r] = emask
                reward[r], correct[r], off[r] = spec.expert_reward, 1.0, 1.0
                valid[slot, G + e] = True
                info["expert_rows"] += 1
        elif spec.batch_mode == "gated":
            solved = int(rnd.correct[src].sum())
            if solved <= spec.upt_gate:
                # Drop the rollouts; the expert trajectory takes the first row and is trained with SFT NLL.
                info["gated_prompts"] += 1
                info["onpolicy_rows"] -= G
                mask[rows] = 0.0
                attn[base + 1:base + G] = 0
                tokens[base + 1:base + G] = spec.pad_id
                valid[slot, :G] = False
                etok, emask = _expert_row(expert_ids(int(rnd.prompt_ids[p]))[0], N, spec.pad_id)
                tokens[base, Lp:], attn[base, Lp:] = etok, emask.astype(np.int32)
                mask[base] = emask
                old_logp[base] = 0.0
                sampler_logp[base] = 0.0
                reward[base], correct[base], sft[base] = spec.expert_reward, 1.0, 1.0
                info["sft_rows"] += 1
    group_rewards = reward.reshape(spec.train_prompts, W)
    adv = compute_advantages(spec.advantage, group_rewards, valid, spec.adv_eps).reshape(R)
    adv = np.where(sft > 0, 0.0, adv).astype(np.float32)
    return {"tokens": tokens, "attn": attn, "mask": mask, "old_logp": old_logp, "sampler_logp": sampler_logp,
            "adv": adv, "reward": reward, "correct": correct, "off": off, "sft": sft}, info
