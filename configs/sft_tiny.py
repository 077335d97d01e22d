"""The tiny default: a 0.75M-parameter Qwen2-style model trained on the embedded arithmetic task (CPU, minutes).

    python -m launch.sft --config=configs/sft_tiny.py [--config.data.toy.preset=hard ...]
"""
from configs import toy
from jaxpt.config import sft_config


def get_config():
    c = sft_config()
    c.workdir = "runs/sft_tiny"
    toy.shared(c)
    toy.sft(c)
    return c
