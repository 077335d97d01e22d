"""One config tree for SFT, RL and the pipeline (see stages.py), one typed merge, one validation.

    from jaxpt.config import sft_config, merge, validate
    cfg = validate(merge(sft_config(), {"sft": {"total_steps": 300}, "optim": {"lr": 1e-4}}), "sft")
"""
from jaxpt.config.merge import ConfigKeyError, merge
from jaxpt.config.stages import pipeline_config, rl_config, sft_config
from jaxpt.config.validate import ConfigValueError, validate
from jaxpt.config.views import rl_view, sft_view, stage_optim

__all__ = ["ConfigKeyError", "ConfigValueError", "merge", "pipeline_config", "rl_config", "sft_config",
           "validate", "rl_view", "sft_view", "stage_optim"]
