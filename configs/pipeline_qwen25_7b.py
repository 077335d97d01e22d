"""The paper's whole Qwen2.5-7B job on accelerators: SFT with the settings of sft_qwen25_7b.py, switch at
detected mild overfitting, DAPO_dc with the settings of rl_qwen25_7b_dapo.py, the six benchmarks.

    python -m launch.pipeline --config=configs/pipeline_qwen25_7b.py \
        --config.model.init_from=/models/Qwen2.5-7B --config.data.sft.source=/data/sft889k.jsonl \
        --config.data.rl.source=/data/dapo17k.jsonl
"""
from configs import qwen25_7b
from jaxpt.config import pipeline_config


def get_config():
    c = pipeline_config()
    c.name = "qwen25_7b"
    qwen25_7b.shared(c)
    qwen25_7b.sft(c)
    qwen25_7b.rl(c)
    c.schedule.paradigm = "sequential"
    c.schedule.rl_algorithm = "dapo_dc"
    c.schedule.switch_mode = "mild"
    return c
