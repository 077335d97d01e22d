"""Switch rules measured on the toy task (issue 18, part 4): per data variant, one SFT run to the end and full
GRPO branches from every 2nd validation (every 200 steps) and from the minimum-validation-loss checkpoint;
then on those same runs the exhaustive best, the paper's min-validation-loss rule and switch_mode "forecast"
(probes of probe_flops RL FLOPs from the first Stable point on), with their scores and compute.

    python -m launch.study --config=configs/study_forecast.py
    # or the variants in two processes sharing the run directory, then a report over all four:
    python -m launch.study --config=configs/study_forecast.py --config.variants=easy,uniform --resume
    python -m launch.study --config=configs/study_forecast.py --config.variants=hard,general --resume
    python -m launch.study --config=configs/study_forecast.py --resume

The forecast settings below are the schedule's (switch_mode "forecast"); forecast_grid replays the same runs
with other settings ("" = these), at no extra training.
"""
from configs import study


def get_config():
    c = study.get_config()
    c.name = "study_forecast"
    c.switch_rules = True
    c.report_variants = ()  # () = c.variants
    c.schedule.continue_sft_after_switch = False  # the study runs SFT to the end itself
    c.schedule.switch_mode = "forecast"
    c.schedule.probe_every = 2  # candidates every 200 SFT steps
    # ~20 GRPO steps of the toy model (~4e10 FLOPs a step): half the RL; one candidate that fails to beat the
    # best is let pass (the toy's P_sft is noisy from one checkpoint to the next). The rule (a quarter
    # of the RL, patience 1) is replayed in forecast_grid: 3 of 4 variants within noise against 4 of 4.
    c.schedule.probe_flops = 8e11
    c.schedule.probe_confidence = 0.8
    c.schedule.probe_patience = 2
    c.schedule.probe_target = "horizon"
    c.rl.total_steps = 40
    c.rl.eval_every = 2  # 5 evaluations in a probe: the forecast needs points
    c.sft.score_every = 2  # P_sft of every candidate (every 200 steps)
    # Budgets (total FLOPs): the toy's SFT costs ~1.3e12 per 100 steps and 40 GRPO steps ~1.6e12.
    c.forecast_grid = ("", "probe_flops=4e11,probe_patience=1", "probe_flops=4e11", "probe_patience=1",
                       "probe_target=ceiling", "budget_flops=1e13", "budget_flops=1.5e13")
    return c
