"""The default pipeline (`make run`): the embedded arithmetic task, a tiny Qwen2.5-architecture model, SFT
until mild overfitting is detected, GRPO from the minimum-validation-loss checkpoint, then the fit.

Sized for 2 CPU cores in about 15 minutes (shared docs/toy-task-notes.md). Every key can be overridden:
    python -m launch.pipeline --config=configs/default.py --config.schedule.switch_mode=stable
"""
from configs import toy
from jaxpt.config import pipeline_config


def get_config():
    c = pipeline_config()
    c.name = "default"
    toy.shared(c)
    toy.sft(c)
    c.sft.score_every = 2  # score every 2nd validation's model (plus the branch point and the last)
    toy.rl(c)
    c.schedule.paradigm = "sequential"
    c.schedule.rl_algorithm = "grpo"
    c.schedule.switch_mode = "mild"  # the paper's rule: RL from the minimum-validation-loss checkpoint
    return c
