"""The whole job, for any model and data: data -> SFT (watched by the scheduler) -> switch -> RL -> eval ->
fit -> report. `launch/pipeline.py` calls these stages in order; the study reuses them for many runs.

    ledger.py   the run directory and what a resumed run can skip
    stages.py   base model, SFT stage, branch model, RL stage
    curves.py   every evaluation as rows of the authors' curves.csv format (one column per eval set)
    summary.py  ceiling fits and summary.json
    report.py   report.md with plots
    study.py, findings.py   the paper's comparisons over several runs
"""
