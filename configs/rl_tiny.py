"""RL on the embedded arithmetic task with the tiny model (CPU, minutes): GRPO by default.

    python -m launch.rl --config=configs/rl_tiny.py --init=runs/sft_tiny/best_model
Other paradigms: --config.rl.algorithm=dapo_dc | dapo | dapo_d | drgrpo | luffy | srft | upt
(the toy settings below follow docs/toy-task-notes.md: 16 prompts x 8 samples, temperature 1.0, lr 1e-4).
"""
from jaxpt.rl.rl_config import default_config


def get_config():
    c = default_config()
    c.workdir = "runs/rl_tiny"
    c.data.source = "toy"
    c.data.toy_preset = "uniform"
    c.data.toy_seed = 0
    c.data.toy_noise = 0.3
    c.data.eval_size = 500
    c.rl.algorithm = "grpo"
    c.rl.total_steps = 60
    c.rl.gen_prompts = 16
    c.rl.train_prompts = 16  # dynamic sampling (dapo*) keeps 16 informative groups, generating 16 per round
    c.rl.group_size = -1  # AUTO: 8 (LUFFY: 7 + 1 expert)
    c.rl.max_new_tokens = 64
    c.rl.temperature = 1.0
    c.rl.max_gen_rounds = 4
    c.rl.overlong_cache_len = 16
    c.optim.lr = 1e-4
    c.optim.clip_norm = 1.0
    c.eval.every = 10
    c.checkpoint.every = 20
    return c
