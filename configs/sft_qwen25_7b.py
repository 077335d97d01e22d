"""Qwen2.5-7B SFT on an SFT889K-style local file with the paper's settings (accelerators; not for CPU).

    python -m launch.sft --config=configs/sft_qwen25_7b.py \
        --config.model.init_from=/models/Qwen2.5-7B --config.data.source=/data/sft889k.jsonl

Paper settings: lr 1e-5, batch 512 sequences, max length 12000. We pack documents into rows of 12288 tokens
(a multiple of loss_chunk); with SFT889K's mean length of 3771 tokens, 160 rows hold ~512 sequences, so a
step sees about the paper's batch without padding to 12000 (FLOPs are counted per sequence as in the paper).
Memory: bf16 compute, full remat, FSDP over all devices, 20 micro-batches of 8 rows, chunked loss.
"""
from jaxpt.train.sft_config import default_config


def get_config():
    c = default_config()
    c.workdir = "runs/sft_qwen25_7b"
    c.tokenizer = ""  # the tokenizer files in model.init_from
    c.model.init_from = "/path/to/Qwen2.5-7B"  # HF directory (or a jaxpt checkpoint)
    c.model.param_dtype = "float32"  # fp32 master weights and Adam moments; compute in bf16
    c.model.dtype = "bfloat16"
    c.model.remat = "full"
    c.data.source = "/path/to/sft889k.jsonl"
    c.data.fields.update(dict(question="question", solution="solution", answer="answer"))
    c.data.val_size = 1000  # held-out trajectories for the validation loss
    c.data.system_prompt = "Please reason step by step, and put your final answer within \\boxed{}."
    c.data.max_len = 12000
    c.data.seq_len = 12288
    c.data.pack = True
    c.train.total_steps = 3600  # ~2 epochs of 889K at 512 sequences per step
    c.train.batch_rows = 160
    c.train.grad_accum = 20
    c.train.lr = 1e-5
    c.train.schedule = "cosine"
    c.train.warmup_steps = 100
    c.train.min_lr_ratio = 0.0
    c.train.b1 = 0.9
    c.train.b2 = 0.95
    c.train.weight_decay = 0.0
    c.train.clip_norm = 1.0
    c.train.loss_chunk = 1024  # never materialise [rows, 12288, 152064] logits
    c.eval.every = 360  # the paper's checkpoint interval
    c.eval.batch_rows = 8
    c.checkpoint.every = 360
    c.checkpoint.max_to_keep = 2
    c.log.every = 1
    c.mesh.enabled = True
    c.mesh.data = 1
    c.mesh.fsdp = -1
    c.mesh.tensor = 1
    return c
