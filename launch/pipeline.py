"""The main job: data -> SFT -> switch -> RL -> eval -> fit -> report (what `make run` runs).

    python -m launch.pipeline --config=configs/default.py [--config.schedule.switch_mode=stable ...]

Writes runs/<name>/report.md (plots inside), summary.json, curves.csv (the authors' curve format) and the
stage directories (sft/, rl/, fit/).
"""
import time

from absl import app, logging
from ml_collections import config_flags

from launch import common

_CONFIG = config_flags.DEFINE_config_file("config", "configs/default.py", "Pipeline config module.")


def main(argv):
    del argv
    common.start()
    from jaxpt.schedule import pipeline as P
    from jaxpt.schedule.scheduler import Scheduler

    cfg, t0 = _CONFIG.value, time.time()
    run = P.run_dir(cfg)
    data = P.make_data(cfg, run)                                             # 1. expert trajectories
    score = P.make_scorer(cfg, data.test[: cfg.eval.num_problems])           #    held-out grader
    scheduler = Scheduler.from_config(cfg.schedule)
    base = P.base_model(cfg)
    p0 = score(base)                                                         # 2. base model P0
    sft = None
    if scheduler.paradigm.sft:
        sft = P.run_sft_stage(cfg, data, run, scheduler, score)              # 3. SFT, watched by the scheduler
    branch = sft.decision.branch_step if sft else None                       # 4. switch point
    init = P.branch_model_dir(sft, branch) if sft else base
    p_sft = sft.scores[branch] if sft else p0
    rl = None
    if scheduler.paradigm.rl:
        experts = data.train if scheduler.paradigm.synchronized else None
        rl = P.run_rl_stage(cfg, data, run, init, score, experts=experts)    # 5. RL from the branch
    p_post = rl.history[-1][2] if rl else p_sft                              # 6. final held-out score
    rows = P.curve_rows(cfg.data.preset, sft, {branch or 0: rl} if rl else {}, p0)
    curves = P.write_curves(run / "curves.csv", rows)                        # 7. plasticity-ceiling fit
    fits = P.fit_ceilings(curves, run / "fit") if rl else []
    summary = P.summarize(run, cfg, p0, sft, rl, p_sft, p_post, fits, t0)    # 8. report
    report = P.write_report(run, summary, sft, rl, fits)
    logging.info("summary: %s", summary)
    print(f"P0 {p0:.3f} -> P_sft {p_sft:.3f} -> P_post {p_post:.3f}; A_post {summary['A_post']}; "
          f"report: {report}")


if __name__ == "__main__":
    app.run(main)
