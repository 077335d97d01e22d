"""The default pipeline (`make run`): the embedded arithmetic task, a tiny Qwen2.5-architecture model, SFT
until mild overfitting is detected, GRPO from the minimum-validation-loss checkpoint, then the fit.

Sized for 2 CPU cores in about 15 minutes (shared docs/toy-task-notes.md). Every key can be overridden:
    python -m launch.pipeline --config=configs/default.py --config.schedule.switch_mode=stable
"""
import ml_collections

from configs import rl_tiny, sft_tiny


def get_config():
    c = ml_collections.ConfigDict()
    c.name = "default"
    c.out_dir = "runs"
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.preset = "uniform"  # jaxpt.data.toy_task.PRESETS: s1k, easy, uniform, hard, general
    c.data.seed = 0
    c.data.noise = 0.3  # style variety of the expert trajectories (what makes the validation loss turn up)

    c.schedule = ml_collections.ConfigDict()
    c.schedule.paradigm = "sequential"  # pure_sft, pure_rl, sequential, luffy, srft, upt
    c.schedule.rl_algorithm = "grpo"  # for sequential / pure_rl: grpo, drgrpo, dapo, dapo_d, dapo_dc
    c.schedule.switch_mode = "mild"  # mild (the paper's rule), stable, step, flops
    c.schedule.switch_step = 0
    c.schedule.switch_flops = 0.0
    c.schedule.delta = 0.02
    c.schedule.delta2 = 0.1
    c.schedule.patience = 2
    c.schedule.smoothing = 0.0
    c.schedule.continue_sft_after_switch = False

    c.sft = sft_tiny.get_config()
    c.sft.log.print_evals = True
    c.rl = rl_tiny.get_config()

    c.eval = ml_collections.ConfigDict()
    c.eval.num_problems = 500  # held-out problems (greedy): ~2 points of noise
    c.eval.max_new_tokens = 64
    c.eval.batch_size = 256
    c.eval.sft_score_every = 2  # score every 2nd SFT evaluation's checkpoint (+ branch and last)
    return c
