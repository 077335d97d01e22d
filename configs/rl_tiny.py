"""RL on the embedded arithmetic task with the tiny model (CPU, minutes): GRPO by default.

    python -m launch.rl --config=configs/rl_tiny.py --init=runs/sft_tiny/best_model
Other algorithms: --config.rl.algorithm=dapo_dc | dapo | dapo_d | drgrpo | luffy | srft | upt
"""
from configs import toy
from jaxpt.config import rl_config


def get_config():
    c = rl_config()
    c.workdir = "runs/rl_tiny"
    toy.shared(c)
    c.data.rl.source = "toy"  # the task's RL prompt pool
    c.rl.algorithm = "grpo"
    toy.rl(c)
    return c
