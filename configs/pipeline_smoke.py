"""A tiny budget for checking a new model and data end to end on CPU in minutes: a few SFT steps, a fixed
`step` switch, 2 RL steps, short generations. Nothing here is meant to learn; it proves the wiring.

    python -m launch.pipeline --config=configs/pipeline_smoke.py \\
      --config.model.init_from=<HF dir> \\
      --config.data.sft.source=<jsonl with question, solution, answer> \\
      --config.data.rl.source=<jsonl with question, answer> \\
      --config.eval.benchmarks=gsm8k --config.eval.limit=16 --config.eval.max_new_tokens=320 \\
      --config.out_dir=<dir> --config.name=<name>
"""
from jaxpt.config import pipeline_config


def get_config():
    c = pipeline_config()
    c.name = "smoke"
    c.model.init_from = ""  # set it: an HF directory or a jaxpt checkpoint (its tokenizer is used)
    c.mesh.data = 1  # one device: a CPU check
    c.data.sft.source = ""  # set it
    c.data.sft.max_len = 512
    c.data.sft.seq_len = 512
    c.data.val.size = 8
    c.eval.benchmarks = "gsm8k"
    c.eval.limit = 16
    c.eval.max_new_tokens = 320
    c.eval.batch_size = 16
    c.log.every = 1
    s = c.sft
    s.total_steps = 4
    s.batch_rows = 2
    s.eval_every = 2
    s.checkpoint_every = 0  # the last step is still saved
    s.optim.lr = 1e-5
    r = c.rl
    r.total_steps = 2
    r.gen_prompts = 2
    r.group_size = 4
    r.max_new_tokens = 128
    r.eval_every = 2
    r.checkpoint_every = 0
    r.optim.lr = 1e-6
    c.schedule.paradigm = "sequential"
    c.schedule.rl_algorithm = "grpo"
    c.schedule.switch_mode = "step"
    c.schedule.switch_step = 2
    c.checkpoint.max_to_keep = 1
    return c
