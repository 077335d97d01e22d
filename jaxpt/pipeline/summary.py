"""The run's numbers: ceiling fits of its RL branches and summary.json (scores as fractions in [0, 1])."""
import json
import pathlib
from typing import Dict, List, Optional

from absl import logging


def fit_ceilings(curves_path: pathlib.Path, out_dir: pathlib.Path, counts: Dict[str, int]) -> List[dict]:
    """Sigmoid fits of every RL branch with the eval sets' real problem counts: the settings search when a
    branch has enough points for it, else the default settings (short branches)."""
    from jaxpt.analysis.ceilings import fit_curves
    from jaxpt.analysis.report import write_report

    results = None
    for search in (True, False):
        try:
            results = fit_curves(curves_path, bench_counts={k: float(v) for k, v in counts.items()}, search=search)
            break
        except Exception as e:  # a failed fit must not lose the run's other outputs
            logging.warning("ceiling fit (search=%s) failed: %s", search, e)
    if not results:
        return []
    write_report(results, out_dir)
    return results


def _frac(v):
    return None if v is None else float(v) / 100


def summarize(cfg, scorer_counts: Dict[str, int], p0: dict, sft, sft_score: dict, post: dict, rl,
              fits: List[dict], paradigm, prompt: str, wall_s: float) -> dict:
    fit = fits[0] if fits else {}
    history_steps = sft.steps if sft is not None else []
    benchmarks = {name: {"P0": p0["per"].get(name), "P_sft": sft_score["per"].get(name),
                         "P_post": post["per"].get(name), "problems": int(n)} for name, n in scorer_counts.items()}
    return {
        "name": cfg.name,
        "model": str(cfg.model.init_from),
        "paradigm": paradigm.name,
        "rl_algorithm": paradigm.rl,
        "P0": p0["overall"],
        "P_sft": sft_score["overall"],
        "P_post": post["overall"],
        "switch_mode": cfg.schedule.switch_mode if sft is not None else None,
        "rl_stop": cfg.rl.stop,
        "rl_stop_gain_per_eflop": cfg.rl.stop_gain_per_eflop,
        "rl_stop_remaining": cfg.rl.stop_remaining,
        "switch_step": sft.switch_step if sft is not None else None,
        "branch_step": sft.branch_step if sft is not None else None,
        "switch_regime": (sft.regimes[history_steps.index(sft.branch_step)]
                          if sft is not None and sft.branch_step in history_steps else None),
        "switch_regime_online": sft.regime if sft is not None else None,
        "switch_reason": sft.reason if sft is not None else None,
        "min_val_loss_step": sft.best_step if sft is not None else None,
        "min_val_loss": sft.best_val_loss if sft is not None else None,
        # The fitter works in percent; the summary reports fractions like the other scores.
        "A_post": _frac(fit.get("A_post")),
        "PL_rl": _frac(fit.get("PL_rl")),
        "A_post_identified": fit.get("identified"),
        "A_post_interval": [_frac(v) for v in (fit.get("A_post_interval") or [])] or None,
        # Which fit the headline is (sigmoid, constrained when the asymptote is not identified, or peak), and
        # the unconstrained optimum beside it.
        "A_post_headline": fit.get("headline"),
        "A_post_unconstrained": _frac(fit.get("A_post_unconstrained")),
        "rl_best_observed": max((e["overall"] for e in rl.evals), default=None) if rl is not None else None,
        "benchmarks": benchmarks,
        "eval_problems": int(sum(scorer_counts.values())),
        "prompt": prompt,
        "grading": cfg.eval.grading,
        "wall_s": wall_s,
    }


def write_summary(run: pathlib.Path, summary: dict) -> pathlib.Path:
    from jaxpt.pipeline.ledger import _atomic_write, is_main

    path = run / "summary.json"
    if is_main():
        _atomic_write(path, json.dumps(summary, indent=2))
    return path


def p_post_of(rl, sft, sft_score: dict) -> dict:
    """The final score: the last RL evaluation, else (pure SFT) the last SFT model's."""
    if rl is not None and rl.evals:
        last = rl.evals[-1]
        return {"overall": last["overall"], "per": last["per"]}
    if sft is not None and sft.scores:
        return sft.scores[max(sft.scores)]
    return sft_score


def best_rl(rl) -> Optional[float]:
    return max((e["overall"] for e in rl.evals), default=None) if rl is not None else None
