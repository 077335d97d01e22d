"""Plasticity-ceiling analysis (Ding et al. 2512.11470): compute accounting, robust sigmoid fits of
RL gain curves, identifiability-aware ceilings, SFT regimes and trajectory selection.

Free of jax on purpose: it runs on curves CSVs anywhere. Plotting imports matplotlib lazily.
"""
from jaxpt.analysis.ceilings import (analyze_branch, best_ceilings, fit_curves, min_val_losses,
                                     trajectory_selection)
from jaxpt.analysis.correlate import correlate, rank_datasets
from jaxpt.analysis.curves import CurveFormatError, build_branch, overall_score, read_curves
from jaxpt.analysis.fitting import RobustFit, plain_fit, robust_fit, search_settings, selection_score
from jaxpt.analysis.flops import (QWEN25_7B, ModelDims, dapo_step_flops, forward_flops_per_token,
                                  grpo_step_flops, luffy_step_flops, sft_step_flops, srft_step_flops,
                                  to_eflops, upt_step_flops)
from jaxpt.analysis.identify import bootstrap_interval, constrained_fit, identification, profile_interval
from jaxpt.analysis.regimes import label_regimes
from jaxpt.analysis.report import write_report
from jaxpt.analysis.robust import lts_fit, modified_z_scores, r2_score, rmse, zscore_filter
from jaxpt.analysis.settings import FitSettings, load_fit_settings, split_indices
from jaxpt.analysis.sigmoid import SigmoidParams, fit_sigmoid, sigmoid

__all__ = [
    "analyze_branch", "best_ceilings", "fit_curves", "min_val_losses", "trajectory_selection",
    "correlate", "rank_datasets", "CurveFormatError", "build_branch", "overall_score", "read_curves",
    "RobustFit", "plain_fit", "robust_fit", "search_settings", "selection_score",
    "QWEN25_7B", "ModelDims", "dapo_step_flops", "forward_flops_per_token", "grpo_step_flops",
    "luffy_step_flops", "sft_step_flops", "srft_step_flops", "to_eflops", "upt_step_flops",
    "bootstrap_interval", "constrained_fit", "identification", "profile_interval", "label_regimes",
    "write_report", "lts_fit", "modified_z_scores", "r2_score", "rmse", "zscore_filter",
    "FitSettings", "load_fit_settings", "split_indices", "SigmoidParams", "fit_sigmoid", "sigmoid",
]
