"""The pipeline's plots: validation loss with regimes shaded, and score against cumulative FLOPs."""
from typing import Optional, Sequence

import numpy as np

from jaxpt.utils.plotting import pyplot, save

REGIME_COLORS = {"adaptive": "#dbe9f6", "stable": "#d5f0d5", "mild": "#fbe8c8", "severe": "#f6d0d0"}


def plot_val_loss(path, steps: Sequence[int], losses: Sequence[float], regimes: Sequence[str],
                  switch_step: Optional[int] = None, branch_step: Optional[int] = None,
                  train_steps: Optional[Sequence[int]] = None, train_losses: Optional[Sequence[float]] = None):
    """Validation loss per SFT evaluation; background shaded by retrospective regime."""
    plt = pyplot()
    steps, losses = np.asarray(steps, float), np.asarray(losses, float)
    fig, ax = plt.subplots(figsize=(7, 4))
    # Shade from halfway to the previous evaluation to halfway to the next one.
    edges = np.concatenate([[steps[0]], (steps[1:] + steps[:-1]) / 2, [steps[-1]]])
    seen = set()
    for i, r in enumerate(regimes):
        ax.axvspan(edges[i], edges[i + 1], color=REGIME_COLORS[r], lw=0,
                   label=None if r in seen else r)
        seen.add(r)
    if train_steps is not None and len(train_steps):
        ax.plot(train_steps, train_losses, color="0.6", lw=0.8, label="train loss")
    ax.plot(steps, losses, "o-", color="C0", ms=3, label="validation loss")
    if branch_step is not None:
        ax.axvline(branch_step, color="C2", ls="--", label=f"RL branch (step {branch_step})")
    if switch_step is not None and switch_step != branch_step:
        ax.axvline(switch_step, color="C3", ls=":", label=f"switch detected (step {switch_step})")
    lo, hi = losses.min(), np.percentile(losses, 90)
    ax.set_ylim(lo - 0.1 * (hi - lo + 1e-9), hi + 0.3 * (hi - lo + 1e-9))
    ax.set_xlabel("SFT step")
    ax.set_ylabel("token-mean NLL")
    ax.set_title("SFT validation loss and regimes")
    ax.legend(fontsize=7, loc="upper right")
    save(fig, path)


def plot_score_vs_flops(path, sft_points, rl_points, p0: float, branch_flops: Optional[float] = None,
                        fit=None):
    """sft_points / rl_points: (cumulative FLOPs, score in [0, 1]); fit: (U, C_mid, B, c0, P_sft) in gain
    space with C_mid in the same FLOPs unit as the RL x (relative to the branch point)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axhline(p0, color="0.5", ls=":", label=f"base model P0 = {p0:.3f}")
    if sft_points:
        x, y = zip(*sft_points)
        ax.plot(x, y, "o-", ms=3, color="C0", label="SFT (held-out accuracy)")
    if rl_points:
        x, y = zip(*rl_points)
        ax.plot(x, y, "s-", ms=3, color="C1", label="RL from the branch checkpoint")
    if fit is not None and branch_flops is not None and rl_points:
        u, c_mid, b, c0, p_sft = fit
        xr = np.linspace(1e-9, max(x) - branch_flops, 200)
        gain = c0 + (u - c0) / (1 + (c_mid / np.maximum(xr, 1e-12)) ** b)
        ax.plot(branch_flops + xr, p_sft + gain, color="C3", lw=1, label="sigmoid fit")
        ax.axhline(p_sft + u, color="C3", ls="--", lw=0.8, label=f"A_post = {p_sft + u:.3f}")
    if branch_flops is not None:
        ax.axvline(branch_flops, color="C2", ls="--", lw=0.8)
    ax.set_xlabel("cumulative training FLOPs")
    ax.set_ylabel("held-out accuracy")
    ax.set_title("Score against compute")
    ax.legend(fontsize=7, loc="lower right")
    save(fig, path)
