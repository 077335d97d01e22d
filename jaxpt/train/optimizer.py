"""The optimizer of every stage: global-norm clipping then AdamW, with a warm-up + cosine/constant schedule, built
from the stage's config (the stage's optim overrides over the shared optim section)."""
import jax
import jax.numpy as jnp
import optax

from jaxpt.config.views import stage_optim


def make_schedule(lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine",
                  min_lr_ratio: float = 0.0):
    """Learning rate at optimizer step k (0-based): linear warm-up lr (k + 1) / W for k < W (the first
    step already moves), then cosine decay to min_lr_ratio * lr at total_steps, or constant."""
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be cosine or constant, got {schedule!r}")
    warmup = max(0, min(int(warmup_steps), int(total_steps)))
    decay_steps = max(1, int(total_steps) - warmup)

    def sched(step):
        k = jnp.asarray(step, jnp.float32)
        if schedule == "constant":
            after = jnp.asarray(lr, jnp.float32)
        else:
            progress = jnp.clip((k - warmup) / decay_steps, 0.0, 1.0)
            after = lr * (min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))
        if warmup == 0:
            return after
        return jnp.where(k < warmup, lr * (k + 1.0) / warmup, after)

    return sched


def make_optimizer(lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine",
                   min_lr_ratio: float = 0.0, b1: float = 0.9, b2: float = 0.95, eps: float = 1e-8,
                   weight_decay: float = 0.0, clip_norm: float = 1.0):
    """(optax transform, schedule): global-norm clipping then AdamW; no decay on norms and biases."""
    sched = make_schedule(lr, total_steps, warmup_steps, schedule, min_lr_ratio)
    decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)  # noqa: E731
    parts = [optax.clip_by_global_norm(clip_norm)] if clip_norm and clip_norm > 0 else []
    parts.append(optax.adamw(sched, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=decay_mask))
    return optax.chain(*parts), sched


def optimizer_for(cfg, stage: str, total_updates: int):
    """(optax transform, learning-rate schedule) of `stage` ("sft" or "rl") for `total_updates` updates."""
    o = stage_optim(cfg, stage)
    return make_optimizer(lr=float(o["lr"]), total_steps=int(total_updates), warmup_steps=int(o["warmup_steps"]),
                          schedule=str(o["schedule"]), min_lr_ratio=float(o["min_lr_ratio"]), b1=float(o["b1"]),
                          b2=float(o["b2"]), eps=float(o["eps"]), weight_decay=float(o["weight_decay"]),
                          clip_norm=float(o["clip_norm"]))
