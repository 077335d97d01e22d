"""The optimizer of a stage from its config tree: the stage's optim overrides over the shared optim section."""
from jaxpt.config.views import stage_optim


def optimizer_for(cfg, stage: str, total_updates: int):
    """(optax transform, learning-rate schedule) of `stage` ("sft" or "rl") for `total_updates` updates."""
    from jaxpt.train.sft_step import make_optimizer

    o = stage_optim(cfg, stage)
    return make_optimizer(lr=float(o["lr"]), total_steps=int(total_updates), warmup_steps=int(o["warmup_steps"]),
                          schedule=str(o["schedule"]), min_lr_ratio=float(o["min_lr_ratio"]), b1=float(o["b1"]),
                          b2=float(o["b2"]), eps=float(o["eps"]), weight_decay=float(o["weight_decay"]),
                          clip_norm=float(o["clip_norm"]))
