"""The main job: data -> SFT -> switch -> RL -> eval -> fit -> report, for any model and data.

    python -m launch.pipeline --config=configs/default.py [--config.schedule.switch_mode=stable ...]
    python -m launch.pipeline --config=configs/pipeline_smoke.py --config.model.init_from=<HF dir> \\
        --config.data.sft.source=<jsonl> --config.data.rl.source=<jsonl> --config.eval.benchmarks=gsm8k
    python -m launch.pipeline --config=... --resume      # continue an interrupted run of the same name

Writes <out_dir>/<name>/: summary.json, report.md (plots inside), curves.csv (the authors' format, one
column per evaluation set), the stage directories (sft/, rl/, fit/) and pipeline_state.json; with
schedule.switch_mode=forecast or rl.stop=forecast also decisions.jsonl and the probes' rl_<step>/.
"""
import time

from absl import app
from ml_collections import config_flags

from launch import common

_CONFIG = config_flags.DEFINE_config_file("config", "configs/default.py", "Pipeline config module.",
                                          lock_config=False)


def main(argv):
    del argv
    common.start()
    summary = run(common.config(_CONFIG.value, "pipeline"))
    if summary is not None:
        print(f"P0 {summary['P0']:.3f} -> P_sft {summary['P_sft']:.3f} -> P_post {summary['P_post']:.3f}; "
              f"A_post {summary['A_post']}; report: {summary['report']}")


def run(cfg):
    """The whole job for a validated pipeline config tree; returns the summary (None on processes > 0)."""
    t0 = time.time()
    from jaxpt.eval.scorer import Scorer
    from jaxpt.pipeline import curves as C, forecast_stage as F, ledger as L, report as R, stages as S, summary as Y
    from jaxpt.schedule.scheduler import Scheduler
    from jaxpt.train.setup import load_stage_tokenizer

    out = L.run_dir(cfg, resume=cfg.checkpoint.resume)
    ledger = L.Ledger(out)
    _, tok = load_stage_tokenizer(cfg)
    scorer = Scorer.from_config(cfg, tok, progress=cfg.log.progress)               # 1. evaluation sets
    S.record_prompt_format(out, scorer, tok)
    n_eval = int(sum(scorer.counts.values()))
    scheduler = Scheduler.from_config(cfg.schedule, F.forecast_switch(cfg, n_eval))  # forecast mode: + probes
    p0 = S.base_score(cfg, scorer, ledger)                                          # 2. base model P0
    sft = S.run_sft_stage(cfg, out, scheduler, scorer, ledger) if scheduler.paradigm.sft else None  # 3. SFT
    branch = sft.branch_step if sft is not None else 0                              # 4. the switch point
    p_sft = sft.scores[branch] if sft is not None and branch else p0
    rl = None
    if scheduler.paradigm.rl:                                                       # 5. RL from the branch
        init = S.branch_model_dir(sft, branch) if sft is not None else S.base_model(cfg)
        rl = S.run_rl_stage(cfg, out, scheduler.paradigm.rl, init, scorer, start_score=p_sft,  # forecast mode:
                            **F.rl_stage_options(cfg, out, scheduler, sft, p_sft, ledger, n_eval))  # the best probe
    post = Y.p_post_of(rl, sft, p_sft)                                              # 6. final score
    if not L.is_main():
        return None
    sets = list(scorer.sets)                                                        # 7. curves and the fit
    curves = C.write_curves(out / "curves.csv", C.curve_rows(cfg.name, sets, p0, sft, {branch: rl} if rl else {}),
                            sets)
    fits = Y.fit_ceilings(curves, out / "fit", scorer.counts) if rl is not None else []
    summary = Y.summarize(cfg, scorer.counts, p0, sft, p_sft, post, rl, fits, scheduler.paradigm,   # 8. report
                          scorer.fmt.describe(tok), time.time() - t0)
    summary.update(F.compute_summary(out, ledger, sft, rl))                         #    compute spent
    Y.write_summary(out, summary)
    return {**summary, "report": str(R.write_report(out, summary, sft, rl, fits))}


if __name__ == "__main__":
    common.add_config_help("pipeline")
    app.run(main, flags_parser=common.parse_flags)
