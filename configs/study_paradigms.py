"""The paradigm comparison at matched compute (38 minutes measured on 2 CPU cores):

    python -m launch.study --config=configs/study_paradigms.py

Pure RL, LUFFY, SRFT and UPT start from the base model and run until they have used as many FLOPs as the
sequential run (SFT up to its branch + its RL stage), evaluated every rl.eval.every steps; pure SFT is the best
scored SFT checkpoint. One data variant, one branch (the scheduler's), SFT stopped at the detected switch.
"""
from configs import study


def get_config():
    c = study.get_config()
    c.name = "study_paradigms"
    c.variants = ("uniform",)
    c.paradigm_variant = "uniform"
    c.branches_per_variant = 1
    c.schedule.continue_sft_after_switch = False
    c.paradigm_compute = "match_flops"
    c.paradigm_max_steps = 400
    c.rl.eval_every = 20
    return c
