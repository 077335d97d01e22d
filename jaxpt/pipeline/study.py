"""Helpers of the study: which SFT checkpoints RL branches from, and ceilings per data set."""
from typing import Dict, List


def pick_branches(sft, n: int = 3) -> List[int]:
    """Up to n evaluated SFT steps: the scheduler's branch (minimum validation loss), one well before it
    (half-way through the adaptive phase) and the last evaluation (past the minimum), de-duplicated."""
    steps = [s for s in sft.steps if s > 0]
    scored = [s for s in steps if s in sft.scores] or steps
    best = sft.branch_step
    picks = [best]
    before = [s for s in scored if s < best]
    if before and n > 1:
        picks.append(before[len(before) // 2])
    after = [s for s in scored if s > best]
    if after and n > 2:
        picks.append(after[-1])
    return sorted(set(picks))[:n]


def scene_ceilings(branch_rows: List[dict]) -> Dict[str, float]:
    """{data set: best ceiling over its branches}."""
    out: Dict[str, float] = {}
    for b in branch_rows:
        c = b.get("ceiling")
        if c is not None and (b["scene"] not in out or c > out[b["scene"]]):
            out[b["scene"]] = c
    return out
