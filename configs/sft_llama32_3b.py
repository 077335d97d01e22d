"""Llama-3.2-3B SFT on an SFT889K-style local file with the paper's settings (accelerators; not for CPU).

    python -m launch.sft --config=configs/sft_llama32_3b.py \
        --config.model.init_from=/models/Llama-3.2-3B --config.data.sft.source=/data/sft889k.jsonl

Same recipe as configs/sft_qwen25_7b.py (lr 1e-5, ~512 sequences per step packed into 160 rows of 12288
tokens, max length 12000, bf16 compute, full remat, FSDP); the chat format comes from the tokenizer's own
template (Llama 3 headers).
"""
from configs import sft_qwen25_7b


def get_config():
    c = sft_qwen25_7b.get_config()
    c.workdir = "runs/sft_llama32_3b"
    c.model.init_from = "/path/to/Llama-3.2-3B"
    c.sft.grad_accum = 10  # 16 rows per micro-batch: a 3B model leaves room for more activations
    return c
