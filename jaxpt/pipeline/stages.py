"""Stages of the job: the base model and its score, SFT watched by the scheduler, the branch model, RL.

Every stage reads the one config tree (jaxpt.config.pipeline_config) through its stage view, its data from
jaxpt.data.roles, and is scored by the one evaluator (jaxpt.eval.scorer). A stage that finished in an earlier,
interrupted run of the same directory is read back from the ledger instead of being redone.
"""
import dataclasses
import pathlib
from typing import Dict, List, Optional

from absl import logging

from jaxpt.config import rl_view, sft_view


def score_dict(score) -> dict:
    return {"overall": float(score.overall), "per": {k: float(v) for k, v in score.per.items()},
            "truncated": float(score.truncated)}


def record_prompt_format(run: pathlib.Path, scorer, tokenizer) -> None:
    """<run>/prompt_format.json: the format every stage builds prompts with, and the first evaluation prompt as
    the model sees it (SFT writes its first examples to sft/examples.jsonl, RL its prompts to samples.jsonl)."""
    import json

    from jaxpt.pipeline.ledger import _atomic_write, is_main

    first = scorer.records[0]
    ids = scorer.prompt_ids(first["question"])
    if is_main():
        _atomic_write(run / "prompt_format.json", json.dumps({
            "format": dataclasses.asdict(scorer.fmt), "described": scorer.fmt.describe(tokenizer),
            "eval_example": {"prompt": tokenizer.decode(ids), "prompt_ids": ids[:64]}}, indent=2))


# ----------------------------------------------------------------------------------------------- base
def base_model(cfg):
    """The model before any post-training (P0): model.init_from (random weights for a preset)."""
    from jaxpt.models.model import Model
    from jaxpt.parallel.mesh import sharder_from_config
    from jaxpt.train.setup import initial_params, load_stage_tokenizer, resolve_model_config

    tok_dir, tok = load_stage_tokenizer(cfg)
    mcfg = resolve_model_config(cfg, tok)
    sharder = sharder_from_config(cfg.mesh)
    return Model(mcfg, initial_params(cfg, mcfg, sharder, int(cfg.seed)), sharder, tokenizer_dir=str(tok_dir))


def base_score(cfg, scorer, ledger, model=None) -> dict:
    """P0 (ledger entry "p0")."""
    if ledger.get("p0") is None:
        ledger.put("p0", score_dict(scorer(model if model is not None else base_model(cfg))))
    return ledger.get("p0")


# ------------------------------------------------------------------------------------------------ SFT
@dataclasses.dataclass
class SFTStage:
    workdir: str
    history: List[list]  # [step, tokens, cumulative SFT FLOPs, validation loss] per evaluation
    train_losses: List[list]
    best_step: Optional[int]
    best_val_loss: float
    final_step: int
    scores: Dict[int, dict]  # step -> {"overall", "per"} of scored SFT models
    branch_step: Optional[int]
    switch_step: Optional[int]  # the evaluation at which the switch was decided (None: budget ran out)
    regime: str  # online regime at the decision
    reason: str
    regimes: List[str]  # retrospective regime of every evaluation

    @property
    def steps(self) -> List[int]:
        return [int(h[0]) for h in self.history]

    def flops_at(self, step: int) -> float:
        return float(self.history[self.steps.index(step)][2])

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["scores"] = {str(k): v for k, v in self.scores.items()}
        return d

    @classmethod
    def from_json(cls, d: dict) -> "SFTStage":
        return cls(**{**d, "scores": {int(k): v for k, v in d["scores"].items()}})


def run_sft_stage(cfg, run: pathlib.Path, scheduler, scorer, ledger, export_all: bool = False) -> SFTStage:
    """SFT with the scheduler watching every validation loss; stops when it decides to switch (ledger "sft").
    switch_mode "forecast" probes candidates with short RL runs on the way (jaxpt.pipeline.forecast_stage)."""
    from jaxpt.train.sft_loop import run_sft

    if scheduler.switch_mode == "forecast":
        from jaxpt.pipeline.forecast_stage import run_sft_with_probes

        return run_sft_with_probes(cfg, run, scheduler, scorer, ledger)
    done = ledger.get("sft")
    if done is not None:
        stage = SFTStage.from_json(done)
        _replay(scheduler, stage.history)
        return stage
    view = sft_view(cfg, run / "sft")
    view.sft.export_every_eval = bool(view.sft.export_every_eval or export_all)
    view.checkpoint.resume = _has_checkpoints(run / "sft")
    switched: List[int] = []
    keep_going = bool(cfg.schedule.continue_sft_after_switch)

    def on_eval(step, metrics) -> bool:
        d = scheduler.on_sft_eval(step, metrics["val/loss"], metrics["flops"])
        if d.switch and not switched:
            switched.append(step)
            print(f"switch at step {step}: {d.reason}", flush=True)
        return bool(switched) and not keep_going

    def on_resume(history) -> bool:  # the evaluations before the interruption, seen again by the scheduler
        for step, _, flops, loss in history:
            d = scheduler.on_sft_eval(int(step), float(loss), float(flops))
            if d.switch and not switched:
                switched.append(int(step))
        return bool(switched) and not keep_going

    result = run_sft(view, on_eval=on_eval, score_fn=scorer, on_resume=on_resume)
    stage = finish_sft_stage(result, scheduler, switched[0] if switched else None, scorer)
    ledger.put("sft", stage.to_json())
    return stage


def finish_sft_stage(result, scheduler, switch_step: Optional[int], scorer, scores: Optional[dict] = None
                     ) -> SFTStage:
    """The SFT stage record of a finished SFT run: the scheduler's decision (or its end-of-SFT fallback), the
    retrospective regimes, and the scores (`scores` adds known ones, e.g. probes'); the branch point and the
    last model are always scored (the curve's ends and P_sft)."""
    from jaxpt.analysis.regimes import label_regimes

    decision = scheduler.decision or scheduler.finish_sft()
    steps = [h[0] for h in result.history]
    regimes = label_regimes(steps, [h[3] for h in result.history], scheduler.detector.delta,
                            scheduler.detector.delta2)
    stage = SFTStage(str(result.workdir), [list(h) for h in result.history], [list(t) for t in result.train_losses],
                     result.best_step, result.best_val_loss, result.final_step,
                     {**dict(result.scores), **(scores or {})},
                     decision.branch_step, switch_step, decision.regime, decision.reason, list(regimes))
    for step in sorted({s for s in (stage.branch_step, stage.final_step) if s is not None and s > 0}):
        if step not in stage.scores:
            stage.scores[step] = score_dict(scorer(_load(branch_model_dir(stage, step, result))))
    return stage


def _replay(scheduler, history) -> None:
    for step, _, flops, loss in history:
        scheduler.on_sft_eval(int(step), float(loss), float(flops))
    if scheduler.decision is None:
        scheduler.finish_sft()


def _has_checkpoints(workdir: pathlib.Path) -> bool:
    ck = workdir / "checkpoints"
    return ck.is_dir() and any(p.name.isdigit() for p in ck.iterdir())


def _load(path):
    from jaxpt.models.checkpoint import load_model

    return load_model(path)


def branch_model_dir(stage: SFTStage, step: int, result=None) -> str:
    """A model directory of SFT step `step`: its per-evaluation export, the best model, or (with the run's
    final state at hand) an export made now."""
    work = pathlib.Path(stage.workdir)
    per_eval = work / "models" / f"step_{step}"
    if per_eval.is_dir():
        return str(per_eval)
    if step == stage.best_step and (work / "best_model").is_dir():
        return str(work / "best_model")
    if result is not None and step == result.final_step:
        from jaxpt.train.checkpointing import export_model

        return str(export_model(result.state["params"], result.model_config, per_eval, result.tokenizer_dir))
    from jaxpt.train.sft_loop import load_train_checkpoint_params

    model = load_train_checkpoint_params(work, step)  # any saved train checkpoint
    from jaxpt.train.checkpointing import export_model

    return str(export_model(model.params, model.config, per_eval, model.tokenizer_dir))


# ------------------------------------------------------------------------------------------------- RL
class _KnownStart:
    """The scorer, except that its first call (RL step 0: the branch model itself) returns the score the
    branch point already has: the same greedy evaluation of the same parameters, not done twice."""

    def __init__(self, scorer, start: Optional[dict]):
        self.scorer, self.start = scorer, start

    def __call__(self, model):
        if self.start is None:
            return self.scorer(model)
        from jaxpt.eval.scorer import Score

        s, self.start = self.start, None
        return Score(s["overall"], dict(s["per"]), self.scorer.counts, s.get("truncated", 0.0))


def run_rl_stage(cfg, run: pathlib.Path, algorithm: str, init, scorer, name: str = "rl",
                 flops_budget: Optional[float] = None, max_steps: Optional[int] = None,
                 start_score: Optional[dict] = None, stop=None):
    """RL with `algorithm` from `init` (a model directory or a Model) into <run>/<name>; resumes its own
    checkpoints. flops_budget: stop at the first evaluation whose cumulative RL FLOPs reach it (compare
    paradigms at matched compute; rl.total_steps, or max_steps, stays the cap). start_score: the known score
    of `init` (P_sft or P0), used as the RL curve's first point. stop(step, metrics) -> bool: a further stop
    rule (rl.stop = "forecast"), asked at every evaluation."""
    from jaxpt.rl.learner import run_rl

    import ml_collections

    view = rl_view(cfg, run / name, algorithm)
    view.checkpoint.resume = _has_checkpoints(run / name)
    if isinstance(init, (str, pathlib.Path)):  # an SFT model: the preset overrides made the base model only
        view.model.init_from = str(init)
        view.model.overrides = ml_collections.ConfigDict()
    if max_steps:
        view.rl.total_steps = int(max_steps)
    def on_eval(step, m) -> bool:
        spent = bool(flops_budget) and m["rl_flops"] >= flops_budget
        return bool(stop(step, m)) or spent if stop is not None else spent  # the rule sees every evaluation
    logging.info("RL %s from %s into %s", algorithm, init if isinstance(init, str) else "the base model", run / name)
    known = start_score if (start_score is not None and not view.checkpoint.resume and
                            cfg.eval.temperature == 0) else None  # sampled evaluations differ per call
    return run_rl(view, init=init, on_eval=on_eval if (flops_budget or stop) else None,
                  eval_fn=_KnownStart(scorer, known))
