"""The tiny default: a 0.75M-parameter Qwen2-style model trained on the embedded arithmetic task (CPU, minutes).

    python -m launch.sft --config=configs/sft_tiny.py [--config.data.toy_preset=hard ...]

Sizes and optimiser follow what trained in minutes on a 2-core CPU (shared docs/toy-task-notes.md): hidden
128, 4 layers, 4/2 heads, AdamW lr 2e-3 constant after 50 warm-up steps, b2 0.98, clip 1.0, ~64-75
sequences per step. With toy_noise 0.3 the validation loss reaches a minimum and then rises (overfitting).
"""
from jaxpt.train.sft_config import default_config


def get_config():
    c = default_config()
    c.workdir = "runs/sft_tiny"
    c.tokenizer = "toy"
    c.model.preset = "tiny-qwen"
    c.model.overrides.update(dict(hidden_size=128, intermediate_size=352, num_layers=4, num_heads=4,
                                  num_kv_heads=2))
    c.data.source = "toy"
    c.data.toy_preset = "uniform"
    c.data.toy_noise = 0.3
    c.data.max_len = 128
    c.data.seq_len = 128  # ~2.4 toy documents per packed row
    c.data.pack = True
    c.train.total_steps = 1500
    c.train.batch_rows = 32  # x 128 tokens: ~75 sequences per step
    c.train.lr = 2e-3
    c.train.schedule = "constant"
    c.train.warmup_steps = 50
    c.train.b2 = 0.98
    c.train.weight_decay = 0.0
    c.train.clip_norm = 1.0
    c.eval.every = 100
    c.checkpoint.every = 500
    c.log.every = 20
    return c
