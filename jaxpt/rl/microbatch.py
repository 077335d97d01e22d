"""The update's work list (host side, numpy): mini-batches, the rows worth computing, micro-batches bucketed by length.

    plan = plan_updates(batch, inert, width=G, num_minibatches=1, micro_rows=64, ...)
    for mb in plan.minibatches: update(state, mb.groups, mb.norm)

What is not computed:
- inert rows (jaxpt.rl.losses.inert_rows: no loss token, or advantage 0 where the loss scales with it) are left
  out; the mini-batch's normalisers are still counted over all its rows, so the loss and gradient of the rest
  equal those of the whole mini-batch (the dropped rows contribute exactly zero);
- a mini-batch with nothing left is not run at all (no optimizer step: Adam's momentum would still move the
  weights) and is counted in `skipped`;
- padding: the rows kept are sorted by length and cut into micro-batches; each micro-batch is trimmed to the
  length bucket of its longest prompt and response (jaxpt.sample.settings.length_bucket: {2^k, 1.5 2^k}), and a
  short last micro-batch to a power-of-two row count, so few shapes compile.
Micro-batches of one shape are stacked ([A, rows, ...]) into a group, accumulated in one scan. With
share_prompts, a micro-batch also lists its distinct prompts, which the update computes once for all their rows.
"""
import dataclasses
from typing import Dict, List

import numpy as np

from jaxpt.sample.settings import batch_bucket, length_bucket

TOKEN_KEYS = ("mask", "old_logp", "ref_logp")  # [R, N] response-aligned
ROW_KEYS = ("adv", "reward", "correct", "off", "sft")


@dataclasses.dataclass
class MiniBatch:
    norm: Dict[str, np.ndarray]  # {"tokens", "rows"} of the whole mini-batch (float32 scalars)
    groups: List[Dict[str, np.ndarray]]  # [A, rows, ...] micro-batches, one shape per group
    rows: np.ndarray  # the batch rows computed, in micro-batch order


@dataclasses.dataclass
class Plan:
    minibatches: List[MiniBatch]  # in update order (epochs x mini-batches), skipped ones left out
    skipped: int  # mini-batches with nothing to train
    stats: Dict[str, float]


def minibatch_order(rows: int, width: int, num_minibatches: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of rows that shuffles whole prompt groups, then splits into equal mini-batches:
    returns [num_minibatches, rows / num_minibatches] row indices."""
    groups = rows // width
    if groups % num_minibatches:
        raise ValueError(f"{groups} prompt groups do not split into rl.num_minibatches={num_minibatches}")
    order = rng.permutation(groups) if num_minibatches > 1 else np.arange(groups)
    idx = (order[:, None] * width + np.arange(width)[None, :]).reshape(-1)
    return idx.reshape(num_minibatches, -1)


def bucket(length: int, limit: int, multiple: int = 1) -> int:
    """The padded length of a micro-batch whose longest row is `length` (<= limit): its length bucket, rounded up
    to `multiple` (the LM-head chunk), at most `limit`."""
    b = length_bucket(max(int(length), 1))
    b = -(-b // multiple) * multiple
    return min(b, int(limit))


def _micro(batch: dict, rows: np.ndarray, n_rows: int, lp: int, n: int, prompt_len: int, pad_id: int,
           width: int = 0, row_multiple: int = 1) -> dict:
    """Rows `rows` trimmed to the last `lp` prompt columns and the first `n` response columns, then padded with
    empty rows (no attention, no loss token) to `n_rows`. With `width` (rows per prompt group, whose prompts are
    equal), also prompt_rows [P] (a row of each distinct prompt; P bucketed) and prompt_of [n_rows] (each row's
    prompt), for the update's shared-prompt forward (jaxpt.rl.step)."""
    extra = n_rows - len(rows)
    cols = slice(prompt_len - lp, prompt_len + n)
    out = {}
    for k in ("tokens", "attn"):
        v = batch[k][rows, cols]
        fill = pad_id if k == "tokens" else 0
        out[k] = np.concatenate([v, np.full((extra,) + v.shape[1:], fill, v.dtype)]) if extra else v
    for k in TOKEN_KEYS + ROW_KEYS:
        v = batch[k][rows][:, :n] if k in TOKEN_KEYS else batch[k][rows]
        out[k] = np.concatenate([v, np.zeros((extra,) + v.shape[1:], v.dtype)]) if extra else v
    if width:
        groups, first, of = np.unique(rows // width, return_index=True, return_inverse=True)
        out["prompt_rows"] = np.zeros(min(n_rows, batch_bucket(len(groups), row_multiple)), np.int32)
        out["prompt_rows"][:len(groups)] = first
        out["prompt_of"] = np.zeros(n_rows, np.int32)
        out["prompt_of"][:len(rows)] = of.reshape(-1)
    return out


def plan_updates(batch: dict, inert: np.ndarray, *, width: int, num_minibatches: int, ppo_epochs: int,
                 micro_rows: int, rng: np.random.Generator, prompt_len: int, pad_id: int, row_multiple: int = 1,
                 trim: bool = True, chunk_multiple: int = 1, share_prompts: bool = False) -> Plan:
    """The update's micro-batches from an assembled batch (jaxpt.rl.batch.assemble) and its inert rows.

    micro_rows: rows per micro-batch (gradient accumulation); row_multiple: the mesh's batch-sharding size (a
    micro-batch's row count divides by it); trim=False keeps the full padded width (and no row bucketing).
    chunk_multiple: a fixed LM-head chunk that every response width must divide by (1 = any width).
    share_prompts: micro-batches carry each distinct prompt once (the prompt groups of `width` rows stay together
    when sorted: groups by their longest row, then rows by length).
    """
    R = batch["tokens"].shape[0]
    N = batch["mask"].shape[1]
    p_len = batch["attn"][:, :prompt_len].sum(1)
    r_len = batch["attn"][:, prompt_len:].sum(1)
    length = p_len + r_len
    plan = Plan([], 0, {"rows": 0, "rows_inert": 0, "tokens_real": 0, "tokens_computed": 0,
                        "tokens_full": 0, "micro_batches": 0})
    for _ in range(int(ppo_epochs)):
        for idx in minibatch_order(R, width, num_minibatches, rng):
            mask = batch["mask"][idx]
            norm = {"tokens": np.float32(max(mask.sum(), 1.0)),
                    "rows": np.float32(max(int((mask > 0).any(axis=1).sum()), 1))}
            keep = idx[~inert[idx]]
            plan.stats["rows_inert"] += int(len(idx) - len(keep))
            plan.stats["tokens_full"] += len(idx) * (prompt_len + N)
            if not len(keep):
                plan.skipped += 1
                continue
            if trim and share_prompts:  # longest groups first, a group's rows together, longest rows first
                group = keep // width
                longest = np.zeros(R // width + 1, np.int64)
                np.maximum.at(longest, group, length[keep])
                keep = keep[np.lexsort((-length[keep], group, -longest[group]))]
            elif trim:  # longest first: rows of similar length share a micro-batch
                keep = keep[np.argsort(-length[keep], kind="stable")]
            groups, shapes = [], []
            for start in range(0, len(keep), micro_rows):
                rows = keep[start:start + micro_rows]
                if trim:
                    n_rows = min(micro_rows, batch_bucket(len(rows), row_multiple))
                    n = bucket(r_len[rows].max(), N, chunk_multiple)
                    lp = bucket(p_len[rows].max(), prompt_len)
                else:
                    n_rows, n, lp = micro_rows, N, prompt_len
                mb = _micro(batch, rows, n_rows, lp, n, prompt_len, pad_id, width if share_prompts else 0,
                            row_multiple)
                shape = (mb["tokens"].shape, mb["prompt_rows"].shape if share_prompts else None)
                if shapes and shapes[-1] == shape:
                    groups[-1].append(mb)
                else:
                    groups.append([mb])
                    shapes.append(shape)
                # Positions through the model (each listed prompt once with shared prompts, else every row whole),
                # and those of them that hold a real token.
                if share_prompts:
                    plan.stats["tokens_computed"] += mb["prompt_rows"].size * lp + n_rows * n
                    firsts = rows[np.unique(rows // width, return_index=True)[1]]
                    plan.stats["tokens_real"] += int(p_len[firsts].sum() + r_len[rows].sum())
                else:
                    plan.stats["tokens_computed"] += mb["tokens"].size
                    plan.stats["tokens_real"] += int(length[rows].sum())
                plan.stats["micro_batches"] += 1
            plan.stats["rows"] += len(keep)
            stacked = [{k: np.stack([mb[k] for mb in g]) for k in g[0]} for g in groups]
            plan.minibatches.append(MiniBatch(norm, stacked, keep))
    return plan
