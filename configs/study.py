"""The paper's comparisons at toy scale (about an hour on 2 CPU cores):

    python -m launch.study --config=configs/study.py

1. Paradigms on one data set: pure SFT, pure RL, sequential SFT-then-RL (switch at detected mild
   overfitting), and the synchronized LUFFY, SRFT and UPT, each RL run with the same number of RL steps.
2. Sequential from several SFT checkpoints (before, at and after the validation-loss minimum) of several data
   variants: scale (a large mixed set) and difficulty (easy / uniform / hard of equal size).
The report states whether each finding holds, with the measured numbers.
"""
from configs import default


def get_config():
    c = default.get_config()
    c.name = "study"
    c.variants = ("easy", "uniform", "hard", "general")  # data variants (jaxpt.data.tasks.toy.PRESETS)
    c.large_variant = "general"  # the scale comparison: large mixed set vs the equal-size ones
    c.paradigm_variant = "uniform"
    c.paradigms = ("pure_sft", "pure_rl", "sequential", "luffy", "srft", "upt")  # tuples: overridable by flag
    # "rl_steps": each RL paradigm runs rl.total_steps from the base model (cheap, but far less compute
    # than sequential's SFT + RL); "match_flops": each runs until it has used sequential's FLOPs (see
    # configs/study_paradigms.py), capped at paradigm_max_steps.
    c.paradigm_compute = "rl_steps"
    c.paradigm_max_steps = 400
    c.branches_per_variant = 3  # RL branch points: adaptive (half-way to the minimum), minimum, mild/severe
    c.schedule.continue_sft_after_switch = True  # run SFT past the minimum to have branches on both sides
    c.sft.total_steps = 1400
    c.rl.total_steps = 40
    c.rl.eval_every = 10
    c.sft.score_every = 2
    return c
