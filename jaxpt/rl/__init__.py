"""RL post-training: GRPO / DAPO (and variants), the synchronized SFT+RL baselines LUFFY / SRFT / UPT.

    from jaxpt.rl import run_rl
    result = run_rl({"rl": {"algorithm": "dapo_dc"}}, "runs/sft/best_model")

Layout: learner (the loop's order), setup (what a run is made of), rollout (generate, score, dynamic sampling),
batch (the training batch), microbatch (the update's work list), step (the pure update), losses, advantages,
algorithms (presets), metrics (metrics and FLOPs), transfer (host <-> device crossings), registry (the tables).
Heavy modules load lazily.
"""
_LAZY = {
    "run_rl": ("jaxpt.rl.learner", "run_rl"),
    "RLResult": ("jaxpt.rl.learner", "RLResult"),
    "Learner": ("jaxpt.rl.learner", "Learner"),
    "rl_config": ("jaxpt.config", "rl_config"),
    "resolve": ("jaxpt.rl.algorithms", "resolve"),
    "LossConfig": ("jaxpt.rl.losses", "LossConfig"),
    "policy_loss": ("jaxpt.rl.losses", "policy_loss"),
    "compute_advantages": ("jaxpt.rl.advantages", "compute_advantages"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'jaxpt.rl' has no attribute {name!r}")
