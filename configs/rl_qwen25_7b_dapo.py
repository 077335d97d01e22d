"""The paper's RL recipe on Qwen2.5-7B: DAPO_dc (accelerators; configs/qwen25_7b.py has the settings).

    python -m launch.rl --config=configs/rl_qwen25_7b_dapo.py --init=/ckpt/qwen25-7b-sft \
        --config.data.rl.source=/data/dapo17k.jsonl
Set --config.eval.benchmarks=math500 for a cheaper curve.
"""
from configs import qwen25_7b
from jaxpt.config import rl_config


def get_config():
    c = rl_config()
    c.workdir = "runs/rl_qwen25_7b_dapo_dc"
    qwen25_7b.shared(c)
    c.model.param_dtype = "bfloat16"  # RL keeps bf16 weights (lr 1e-6 updates are applied in fp32 moments)
    c.rl.algorithm = "dapo_dc"
    qwen25_7b.rl(c)
    return c
