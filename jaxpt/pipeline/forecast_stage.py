"""switch_mode "forecast" in the pipeline: SFT in segments with an RL probe at each candidate, and the RL stage
that continues the chosen probe.

SFT stops at a candidate (its hook returns True; the loop checkpoints first), the checkpoint is exported and
probed in <run>/rl_<step> for schedule.probe_flops of RL, and SFT resumes from its checkpoint (exact: the data
order and optimizer state are restored). Only one of SFT or RL holds the device at a time. The scheduler
judges each probe (jaxpt.schedule.forecast_switch); when it stops SFT, RL resumes the best candidate's probe
run, so the probe's compute is not thrown away and the branch is exactly the run an uninterrupted RL from that
checkpoint would have been. Finished probes are kept in the ledger ("probes"): a resumed run replays the
decisions instead of redoing them. Every decision goes to decisions.jsonl (jaxpt.schedule.decision_log).
"""
import pathlib
from typing import Dict

from jaxpt.config import sft_view

PROBES = "probes"  # ledger key: {str(step): {"sft_flops", "evals"}}


def probe_name(step: int) -> str:
    return f"rl_{step}"


def forecast_prior(cfg):
    """schedule.forecast_prior: fits of a finished run's curves.csv give the shape prior; None: a flat one."""
    path = cfg.schedule.get("forecast_prior", "")
    if not path:
        return None
    from jaxpt.analysis.forecast_prior import SigmoidPrior

    return SigmoidPrior.from_curves(path)


def forecast_switch(cfg, n_problems: int):
    """The ForecastSwitch of a pipeline tree in forecast mode, else None."""
    s = cfg.schedule
    if s.switch_mode != "forecast":
        return None
    from jaxpt.schedule.forecast_switch import ForecastSwitch

    return ForecastSwitch(s.probe_flops, s.probe_every, s.probe_confidence, s.probe_patience, s.probe_target,
                          int(cfg.rl.total_steps), s.budget_flops, forecast_prior(cfg), n_problems)


def _log(run: pathlib.Path):
    from jaxpt.pipeline.ledger import is_main
    from jaxpt.schedule.decision_log import DecisionLog

    return DecisionLog(run, enabled=is_main())


def run_sft_with_probes(cfg, run: pathlib.Path, scheduler, scorer, ledger):
    from jaxpt.pipeline.stages import SFTStage, _has_checkpoints, finish_sft_stage
    from jaxpt.train.sft_loop import run_sft

    log = _log(run)
    total = int(cfg.sft.total_steps)
    seen, pending = set(), []

    def feed(step: int, loss: float, flops: float) -> bool:
        """One validation for the scheduler (each once: a resumed segment shows the old ones again); True stops
        SFT: the switch was decided, or a candidate waits for its probe."""
        if step in seen:
            return scheduler.decision is not None
        seen.add(step)
        d = scheduler.on_sft_eval(step, loss, flops)
        if d.probe:
            if str(step) not in ledger.get(PROBES, {}):
                pending.append(step)
                return True
            _judge(scheduler, ledger, log, step, step >= total)
        return scheduler.decision is not None

    done = ledger.get("sft")
    if done is not None:  # finished in an earlier run: replay its decisions for the RL stage
        stage = SFTStage.from_json(done)
        for step, _, flops, loss in stage.history:
            feed(int(step), float(loss), float(flops))
        if _needs_final_probe(scheduler, stage.final_step, total):
            _judge(scheduler, ledger, log, stage.final_step, True)
        _log_switch(scheduler, log)
        return stage
    view = sft_view(cfg, run / "sft")

    def on_resume(history) -> bool:
        for s, _, f, loss in history:  # in order, up to the first stop (a candidate waiting for its probe)
            if feed(int(s), float(loss), float(f)):
                return True
        return False

    while True:
        view.checkpoint.resume = _has_checkpoints(run / "sft")
        result = run_sft(view, on_eval=lambda step, m: feed(step, m["val/loss"], m["flops"]), score_fn=scorer,
                         on_resume=on_resume)
        if not pending:
            break
        step = pending.pop()
        _probe(cfg, run, scheduler, scorer, ledger, result, step)
        _judge(scheduler, ledger, log, step, step >= total)
        if scheduler.decision is not None:
            break
    if _needs_final_probe(scheduler, result.final_step, total):  # SFT ran out: its last model is a candidate too
        _probe(cfg, run, scheduler, scorer, ledger, result, result.final_step)
        _judge(scheduler, ledger, log, result.final_step, True)
    probes = scheduler.forecast.probes
    stage = finish_sft_stage(result, scheduler, probes[-1].step if probes else None, scorer, probe_scores(ledger))
    _log_switch(scheduler, log)
    ledger.put("sft", stage.to_json())
    return stage


def _needs_final_probe(scheduler, final_step: int, total: int) -> bool:
    fs = scheduler.forecast
    return (scheduler.decision is None and final_step >= total and scheduler.detector.settled_step is not None
            and all(p.step != final_step for p in fs.probes))


def _probe(cfg, run: pathlib.Path, scheduler, scorer, ledger, result, step: int) -> None:
    """Exports SFT step `step` (the segment's last state), frees SFT's state and runs the probe; the probe's
    evaluations go to the ledger."""
    from jaxpt.pipeline.stages import run_rl_stage
    from jaxpt.train.checkpointing import export_model

    model_dir = pathlib.Path(result.workdir) / "models" / f"step_{step}"
    if result.state is not None:
        export_model(result.state["params"], result.model_config, model_dir, result.tokenizer_dir,
                     info={"step": step, "sft_workdir": str(result.workdir)})
        result.state = None
    sft_flops = next(float(h[2]) for h in result.history if int(h[0]) == step)
    rl = run_rl_stage(cfg, run, scheduler.paradigm.rl, str(model_dir), scorer, name=probe_name(step),
                      flops_budget=float(cfg.schedule.probe_flops), start_score=result.scores.get(step))
    probes = dict(ledger.get(PROBES, {}))
    probes[str(step)] = {"sft_flops": sft_flops, "evals": rl.evals}
    ledger.put(PROBES, probes)


def _judge(scheduler, ledger, log, step: int, final: bool) -> None:
    """The scheduler's verdict on the recorded probe of `step`, logged with the forecast behind it."""
    from jaxpt.schedule.decision_log import probe_record
    from jaxpt.schedule.probes import Probe

    rec = ledger.get(PROBES, {})[str(step)]
    probe = Probe.from_evals(step, rec["sft_flops"], rec["evals"])
    scheduler.on_probe(probe, final=final)
    fs = scheduler.forecast
    log.write("probe", step, probe_record(probe, fs.forecasts[step], fs.verdicts[-1], fs.horizon(probe)))


def _log_switch(scheduler, log) -> None:
    d = scheduler.decision or scheduler.finish_sft()
    fs = scheduler.forecast
    plan = fs.plan()
    log.write("switch", "sft", {"branch_step": d.branch_step, "reason": d.reason, "spent_flops": fs.spent(),
                                "probes": [p.step for p in fs.probes],
                                "plan": plan.as_dict() if plan is not None else None})


def probe_scores(ledger) -> Dict[int, dict]:
    """The probed checkpoints' own scores (each probe's evaluation at RL compute 0)."""
    out = {}
    for step, rec in ledger.get(PROBES, {}).items():
        first = rec["evals"][0] if rec["evals"] else None
        if first is not None and first["rl_flops"] <= 0:
            out[int(step)] = {"overall": first["overall"], "per": dict(first["per"])}
    return out


def rl_stage_options(cfg, run: pathlib.Path, scheduler, sft, p_sft: dict, ledger, n_problems: int) -> dict:
    """Keyword arguments of run_rl_stage for the run's RL branch: in forecast mode the chosen probe's run (name)
    and, with a budget, the plan's RL compute; with rl.stop = "forecast" the stop rule."""
    kw = {}
    history, branch = [], (sft.branch_step if sft is not None else 0) or 0
    probe = ledger.get(PROBES, {}).get(str(branch)) if scheduler.switch_mode == "forecast" else None
    if probe is not None:
        kw["name"] = probe_name(branch)
        history = probe["evals"]
        plan = scheduler.forecast.plan()
        if plan is not None:
            spent = max(e["rl_flops"] for e in history)
            if plan.choice.rl_flops > spent:
                kw["flops_budget"] = plan.choice.rl_flops
            else:  # nothing left beyond the probe: the resumed run takes no step
                kw["max_steps"] = max(e["step"] for e in history)
    if cfg.rl.stop == "forecast":
        from jaxpt.schedule.rl_stop import ForecastStop

        log = _log(run)
        sft_flops = sft.flops_at(branch) if sft is not None and branch in sft.steps else 0.0
        kw["stop"] = ForecastStop(branch, sft_flops, cfg.rl.stop_gain_per_eflop, cfg.rl.stop_remaining,
                                  forecast_prior(cfg), n_problems, history, start_score=p_sft["overall"],
                                  log=lambda c: log.write("rl_check", c.step, c.as_dict()))
    return kw


def compute_summary(run: pathlib.Path, ledger, sft, rl) -> dict:
    """summary.json's compute accounting (SFT trained, probes beyond the branch's own, the RL branch) and, when
    the forecast took decisions, what they were."""
    from jaxpt.schedule.decision_log import read_decisions

    branch = sft.branch_step if sft is not None else None
    sft_flops = float(sft.history[-1][2]) if sft is not None and sft.history else 0.0
    probes = ledger.get(PROBES, {})
    other = sum(max((e["rl_flops"] for e in p["evals"]), default=0.0) for s, p in probes.items()
                if int(s) != branch or rl is None)
    rl_flops = float(rl.rl_flops) if rl is not None else 0.0
    out = {"sft_flops": sft_flops, "probe_flops": other, "rl_flops": rl_flops,
           "total_flops": sft_flops + other + rl_flops}
    recs = read_decisions(run)
    switch = next((r for r in recs if r["kind"] == "switch"), None)
    stops = [r for r in recs if r["kind"] == "rl_check" and r["stop"]]
    if switch is not None or stops:
        out["forecast"] = {"probed_steps": sorted(int(s) for s in probes),
                           "plan": switch.get("plan") if switch else None,
                           "rl_stopped": stops[0]["reason"] if stops else None}
    return out
