"""What one stage sees of a config tree: its optimizer, and the SFT / RL trees cut out of a pipeline tree."""
import copy

import ml_collections

from jaxpt.config.stages import RL_STOP_KEYS, SHARED, rl_config, sft_config


def stage_optim(cfg, stage: str) -> dict:
    """The optimizer settings of `stage` ("sft" or "rl"): the stage's optim overrides over the shared optim."""
    out = dict(cfg.optim.to_dict())
    over = cfg[stage].get("optim") if stage in cfg else None
    if over is not None:
        out.update({k: v for k, v in over.to_dict().items() if v is not None})
    return out


def _copy_shared(src, dst) -> None:
    dst.seed = src.seed
    for key in SHARED:
        dst[key] = copy.deepcopy(src[key])


def sft_view(cfg, workdir) -> ml_collections.ConfigDict:
    """The SFT tree of a pipeline tree (shared sections + sft), writing into `workdir`."""
    out = sft_config()
    _copy_shared(cfg, out)
    out.sft = copy.deepcopy(cfg.sft)
    out.workdir = str(workdir)
    return out


def rl_view(cfg, workdir, algorithm: str) -> ml_collections.ConfigDict:
    """The RL tree of a pipeline tree (shared sections + rl with `algorithm`), writing into `workdir`."""
    out = rl_config()
    _copy_shared(cfg, out)
    for key in cfg.rl.keys():
        if key not in RL_STOP_KEYS:  # the pipeline's stop rule is its hook on the RL stage, not an RL key
            out.rl[key] = copy.deepcopy(cfg.rl[key])
    out.rl.algorithm = algorithm
    out.workdir = str(workdir)
    return out
