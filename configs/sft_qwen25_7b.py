"""Qwen2.5-7B SFT on an SFT889K-style local file with the paper's settings (accelerators; configs/qwen25_7b.py).

    python -m launch.sft --config=configs/sft_qwen25_7b.py \
        --config.model.init_from=/models/Qwen2.5-7B --config.data.sft.source=/data/sft889k.jsonl
"""
from configs import qwen25_7b
from jaxpt.config import sft_config


def get_config():
    c = sft_config()
    c.workdir = "runs/sft_qwen25_7b"
    qwen25_7b.shared(c)
    qwen25_7b.sft(c)
    return c
