"""Stages of the end-to-end job (data -> SFT -> switch -> RL -> eval -> fit -> report).

`launch/pipeline.py` calls these in order; each stage is a function of the config and the previous stages'
outputs, so the study (configs/study.py) reuses them for many runs.
"""
import csv
import dataclasses
import json
import pathlib
import time
from typing import Dict, List, Optional

import numpy as np
from absl import logging

CURVE_COLUMNS = ("file", "phase", "branch_sft_step", "x_eflops", "overall", "toy", "val_loss", "sft_step")


@dataclasses.dataclass
class Data:
    train: List[dict]
    val: List[dict]
    test: List[dict]
    rl_prompts: List[dict]
    files: Dict[str, str]


@dataclasses.dataclass
class SFTStage:
    result: object  # jaxpt.train.sft_loop.SFTResult
    decision: object  # jaxpt.schedule.scheduler.SwitchDecision
    switch_step: Optional[int]  # the evaluation at which the switch was decided (None: budget ran out)
    regimes: List[str]  # retrospective labels of every evaluation
    scores: Dict[int, float]  # held-out accuracy of evaluated SFT checkpoints, by step


def run_dir(cfg) -> pathlib.Path:
    """runs/<name>; an earlier run of the same name is kept, renamed with its modification time."""
    path = pathlib.Path(cfg.out_dir) / cfg.name
    if path.exists() and any(path.iterdir()):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        path.rename(path.with_name(f"{path.name}.{stamp}"))
        logging.info("kept the previous run as %s.%s", path.name, stamp)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------------- data
def make_data(cfg, run: pathlib.Path) -> Data:
    from jaxpt.data import toy_task

    d = cfg.data
    splits = toy_task.make_splits(d.preset, seed=d.seed, noise=d.noise)
    files = toy_task.write_splits(splits, run / "data")
    print("data:", {k: len(v) for k, v in splits.items()}, flush=True)
    return Data(splits["train"], splits["val"], splits["test"], splits["rl_prompts"],
                {k: str(v) for k, v in files.items()})


def base_model(cfg):
    """The model before any post-training (P0): the SFT config's initial model (random init for the toy)."""
    from jaxpt.data.tokenizer import load_tokenizer, tokenizer_dir
    from jaxpt.models.model import Model
    from jaxpt.train.sft_loop import initial_params, resolve_model_config

    spec = cfg.sft.tokenizer or cfg.sft.model.init_from
    tok_dir = tokenizer_dir(spec)
    mcfg = resolve_model_config(cfg.sft.model, load_tokenizer(tok_dir))
    return Model(mcfg, initial_params(cfg.sft.model, mcfg, None, int(cfg.sft.seed)), tokenizer_dir=str(tok_dir))


# --------------------------------------------------------------------------------------------------- eval
def make_scorer(cfg, records: List[dict], tokenizer_spec="toy"):
    """model -> held-out accuracy in [0, 1] (greedy, the SFT prompt format, graded by jaxpt.rewards)."""
    from jaxpt.data.formatting import PromptFormat, encode_prompts
    from jaxpt.data.tokenizer import load_tokenizer, tokenizer_dir
    from jaxpt.eval.evaluate import evaluate

    tok = load_tokenizer(tokenizer_dir(tokenizer_spec))
    fmt = PromptFormat()
    e = cfg.eval

    def score(model) -> float:
        res = evaluate(model, tok, records, k=1, temperature=0.0, max_new_tokens=int(e.max_new_tokens),
                       batch_size=int(e.batch_size), prompt_fn=lambda q: list(encode_prompts(tok, [q], fmt)[0]),
                       progress=False)
        return float(res.metrics["pass@1"])

    return score


# ---------------------------------------------------------------------------------------------------- SFT
def run_sft_stage(cfg, data: Data, run: pathlib.Path, scheduler, score_fn=None) -> SFTStage:
    """SFT with the scheduler watching every validation loss; stops when it decides to switch."""
    from jaxpt.analysis.regimes import label_regimes
    from jaxpt.models.checkpoint import load_model
    from jaxpt.train.sft_loop import run_sft

    sft_cfg = cfg.sft.to_dict()
    sft_cfg["workdir"] = str(run / "sft")
    sft_cfg.setdefault("checkpoint", {})["export_every_eval"] = True  # any evaluation can be an RL branch
    switched_at = []

    def on_eval(step, metrics) -> bool:
        d = scheduler.on_sft_eval(step, metrics["val/loss"], metrics["flops"])
        if d.switch:
            if not switched_at:  # the scheduler keeps saying "switch" after the point; report it once
                print(f"switch at step {step}: {d.reason}", flush=True)
            switched_at.append(step)
            # Keep training past the switch only when asked to (to show the overfitting side of the curve).
            return not cfg.schedule.get("continue_sft_after_switch", False)
        return False

    result = run_sft(sft_cfg, on_eval=on_eval, records=(data.train, data.val))
    decision = scheduler.decision or scheduler.finish_sft()
    steps = [h[0] for h in result.history]
    losses = [h[3] for h in result.history]
    regimes = label_regimes(steps, losses, scheduler.detector.delta, scheduler.detector.delta2)
    scores = {}
    if score_fn is not None:
        every = max(1, int(cfg.eval.sft_score_every))
        todo = [s for i, s in enumerate(steps) if i % every == 0 or s in (decision.branch_step, steps[-1])]
        for s in sorted(set(todo)):
            path = pathlib.Path(result.workdir) / "models" / f"step_{s}"
            if path.is_dir():
                scores[s] = score_fn(load_model(path))
    return SFTStage(result, decision, switched_at[0] if switched_at else None, regimes, scores)


def branch_model_dir(sft: SFTStage, step: int) -> str:
    return str(pathlib.Path(sft.result.workdir) / "models" / f"step_{step}")


# ----------------------------------------------------------------------------------------------------- RL
def run_rl_stage(cfg, data: Data, run: pathlib.Path, init, score_fn, name: str = "rl", experts=None,
                 flops_budget: Optional[float] = None):
    """RL from `init` (model dir or Model); returns the RLResult with its (step, FLOPs, accuracy) history.

    flops_budget: stop at the first evaluation whose cumulative RL FLOPs reach it (rl.total_steps stays the
    cap), so paradigms can be compared at matched compute."""
    from jaxpt.rl.rl_loop import run_rl

    rl_cfg = cfg.rl.to_dict()
    rl_cfg["workdir"] = str(run / name)
    on_eval = None
    if flops_budget:
        on_eval = lambda step, m: m["rl_flops"] >= flops_budget  # noqa: E731
    return run_rl(rl_cfg, init=init, prompts=data.rl_prompts, experts=experts, eval_fn=score_fn,
                  on_eval=on_eval)


# ------------------------------------------------------------------------------------------------- curves
def curve_rows(scene: str, sft: Optional[SFTStage], branches: Dict[int, object], p0: float) -> List[dict]:
    """Rows in the column format of the authors' curves.csv (scores in percent, x in EFLOPs), plus val_loss
    and sft_step on SFT rows, so jaxpt.analysis reads our runs and the paper's data alike. branches maps
    the SFT step an RL run started from (0 = the base model) to its RLResult."""
    rows = []
    name = f"{scene}_pipeline"
    if sft is not None:
        for step, _, flops, loss in sft.result.history:
            score = sft.scores.get(step, p0 if step == 0 else None)
            if score is None:
                continue
            rows.append({"file": name, "phase": "sft", "branch_sft_step": "", "x_eflops": f"{flops / 1e18:.6g}",
                         "overall": f"{100 * score:.3f}", "toy": f"{100 * score:.3f}", "val_loss": f"{loss:.6f}",
                         "sft_step": step})
    else:
        rows.append({"file": name, "phase": "sft", "branch_sft_step": "", "x_eflops": "0",
                     "overall": f"{100 * p0:.3f}", "toy": f"{100 * p0:.3f}", "val_loss": "", "sft_step": 0})
    for branch_step, rl in branches.items():
        for step, flops, acc in rl.history:
            rows.append({"file": name, "phase": "rl_relative", "branch_sft_step": branch_step,
                         "x_eflops": f"{flops / 1e18:.6g}", "overall": f"{100 * acc:.3f}",
                         "toy": f"{100 * acc:.3f}", "val_loss": "", "sft_step": ""})
    return rows


def write_curves(path: pathlib.Path, rows: List[dict]) -> pathlib.Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CURVE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def fit_ceilings(curves_path: pathlib.Path, out_dir: pathlib.Path) -> List[dict]:
    """Sigmoid fits of every RL branch: the settings search when the branch has enough points for it, else
    the default settings (short toy branches)."""
    from jaxpt.analysis.ceilings import fit_curves
    from jaxpt.analysis.report import write_report

    results = None
    for search in (True, False):
        try:
            results = fit_curves(curves_path, bench_counts={"toy": 1.0}, search=search)
            break
        except Exception as e:  # a failed fit must not lose the run's other outputs
            logging.warning("ceiling fit (search=%s) failed: %s", search, e)
    if not results:
        return []
    write_report(results, out_dir)
    return results


# ------------------------------------------------------------------------------------------------- report
def summarize(run: pathlib.Path, cfg, p0: float, sft: Optional[SFTStage], rl, p_sft: float, p_post: float,
              fits: List[dict], t0: float) -> dict:
    decision = sft.decision if sft is not None else None
    fit = fits[0] if fits else {}
    a_post = fit.get("A_post")
    pl_rl = fit.get("PL_rl")
    summary = {
        "name": cfg.name,
        "paradigm": cfg.schedule.paradigm,
        "P0": p0,
        "P_sft": p_sft,
        "switch_step": sft.switch_step if sft is not None else None,
        "branch_step": decision.branch_step if decision is not None else None,
        "switch_regime": (sft.regimes[[h[0] for h in sft.result.history].index(decision.branch_step)]
                          if decision is not None and decision.branch_step is not None else None),
        "switch_regime_online": decision.regime if decision is not None else None,
        "switch_reason": decision.reason if decision is not None else None,
        "min_val_loss_step": sft.result.best_step if sft is not None else None,
        "min_val_loss": sft.result.best_val_loss if sft is not None else None,
        "P_post": p_post,
        # The fitter works in percent; the summary reports fractions like the other scores.
        "A_post": a_post / 100 if a_post is not None else None,
        "PL_rl": pl_rl / 100 if pl_rl is not None else None,
        "A_post_identified": fit.get("identified"),
        "A_post_interval": [v / 100 if v is not None else None for v in (fit.get("A_post_interval") or [])] or None,
        "rl_best_observed": max((a for _, _, a in rl.history), default=None) if rl is not None else None,
        "num_eval_problems": int(cfg.eval.num_problems),
        "wall_s": time.time() - t0,
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def write_report(run: pathlib.Path, summary: dict, sft: Optional[SFTStage], rl, fits: List[dict]) -> pathlib.Path:
    from jaxpt.schedule.plots import plot_score_vs_flops, plot_val_loss

    lines = [f"# jaxpt pipeline report: {summary['name']}", ""]
    lines += ["| quantity | value |", "|---|---|"]
    for k in ("P0", "P_sft", "P_post", "A_post", "PL_rl", "A_post_identified", "rl_best_observed",
              "switch_step", "branch_step", "switch_regime", "min_val_loss_step", "min_val_loss", "wall_s"):
        v = summary.get(k)
        lines.append(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines += ["", f"Switch: {summary.get('switch_reason')}", ""]
    if sft is not None:
        steps = [h[0] for h in sft.result.history]
        losses = [h[3] for h in sft.result.history]
        tr = sft.result.train_losses
        plot_val_loss(run / "val_loss.png", steps, losses, sft.regimes, sft.switch_step,
                      sft.decision.branch_step, [s for s, _ in tr], [v for _, v in tr])
        lines += ["## SFT validation loss and regimes", "", "![validation loss](val_loss.png)", ""]
        lines += ["| step | val loss | regime | held-out accuracy |", "|---|---|---|---|"]
        for s, l, r in zip(steps, losses, sft.regimes):
            acc = sft.scores.get(s)
            lines.append(f"| {s} | {l:.4f} | {r} | {'' if acc is None else f'{acc:.3f}'} |")
        lines.append("")
    sft_points, branch_flops = [], None
    if sft is not None:
        flops_of = {h[0]: h[2] for h in sft.result.history}
        sft_points = [(flops_of[s], a) for s, a in sorted(sft.scores.items())]
        branch_flops = flops_of.get(sft.decision.branch_step)
    rl_points = []
    if rl is not None:
        base = branch_flops or 0.0
        rl_points = [(base + f, a) for _, f, a in rl.history]
    fit = None
    if fits and fits[0].get("method") == "sigmoid" and branch_flops is not None:
        f0 = fits[0]
        fit = (f0["PL_rl"] / 100, f0["C_mid"] * 1e18, f0["B"], f0.get("c0") or 0.0, f0["P_sft"] / 100)
    plot_score_vs_flops(run / "score_vs_flops.png", sft_points, rl_points, summary["P0"], branch_flops, fit)
    lines += ["## Score against cumulative FLOPs", "", "![score vs FLOPs](score_vs_flops.png)", ""]
    if fits:
        from jaxpt.analysis.report import markdown_table, plot_name

        lines += ["## Plasticity-ceiling fit (gain space, percent)", "", markdown_table(fits), ""]
        lines += [f"![fit of branch {r['sft_step']}](fit/{plot_name(r)})" for r in fits] + [""]
    if rl is not None:
        lines += ["## RL held-out accuracy", "", "| RL step | RL FLOPs | accuracy |", "|---|---|---|"]
        lines += [f"| {s} | {f:.3g} | {a:.3f} |" for s, f, a in rl.history]
    path = run / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
