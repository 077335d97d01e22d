"""Named RL paradigms as config defaults, and the resolution of a config's unset keys.

An algorithm is a dict of rl.* values; `resolve(rl_cfg)` fills every unset (None) key of the config from
the algorithm (then from BASE) and returns a frozen `RLAlgo`. Adding a paradigm = registering a dict (and,
if it needs new math, a loss / advantage estimator in their registries).

batch modes:
    rollouts  G on-policy rollouts per prompt (GRPO, DAPO)
    mixed     G on-policy rollouts + num_expert expert trajectories in the same group (LUFFY, SRFT)
    gated     G rollouts; prompts with <= upt_gate solved train their expert trajectory with SFT NLL (UPT)
"""
import dataclasses

from jaxpt.rl.losses import LossConfig
from jaxpt.rl.registry import ALGORITHMS

BASE = dict(group_size=8, num_expert=0, advantage="grpo", loss="ppo", agg_mode="seq-mean-token-mean",
            clip_eps_low=0.2, clip_eps_high=0.2, dynamic_sampling=False, overlong_shaping=False,
            batch_mode="rollouts")

ALGORITHMS.register("grpo", dict())  # DeepSeekMath GRPO: std-normalised advantages, seq-mean-token-mean
ALGORITHMS.register("drgrpo", dict(advantage="drgrpo", agg_mode="seq-mean-token-sum"))
# DAPO and the paper's ablations (verl's token-mean aggregation in all of them):
#   dapo_d: dynamic sampling; dapo_dc: + clip-higher (the paper's main RL recipe); dapo: + overlong shaping.
ALGORITHMS.register("dapo_d", dict(dynamic_sampling=True, agg_mode="token-mean"))
ALGORITHMS.register("dapo_dc", dict(dynamic_sampling=True, agg_mode="token-mean", clip_eps_high=0.28))
ALGORITHMS.register("dapo", dict(dynamic_sampling=True, agg_mode="token-mean", clip_eps_high=0.28,
                                 overlong_shaping=True))
# Synchronized SFT+RL baselines (algorithms.md section 7).
ALGORITHMS.register("luffy", dict(loss="luffy", advantage="luffy", group_size=7, num_expert=1,
                                  agg_mode="token-mean", batch_mode="mixed"))
ALGORITHMS.register("srft", dict(loss="srft", advantage="luffy", num_expert=1, agg_mode="token-mean",
                                 batch_mode="mixed"))
ALGORITHMS.register("upt", dict(loss="upt", advantage="grpo", agg_mode="token-mean", batch_mode="gated"))
ALGORITHMS.register("hpt", ALGORITHMS.get("upt"))


@dataclasses.dataclass(frozen=True)
class RLAlgo:
    name: str
    batch_mode: str
    group_size: int
    num_expert: int
    advantage: str
    dynamic_sampling: bool
    overlong_shaping: bool
    loss: LossConfig

    @property
    def needs_experts(self) -> bool:
        return self.batch_mode in ("mixed", "gated")

    @property
    def group_width(self) -> int:
        """Rows per prompt in the training batch."""
        return self.group_size + (self.num_expert if self.batch_mode == "mixed" else 0)


def _onoff(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("", "auto"):
        return default
    if s in ("on", "true", "1", "yes"):
        return True
    if s in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"expected on/off/auto, got {value!r}")


def resolve(rl) -> RLAlgo:
    """The resolved algorithm of an `rl` config section (ConfigDict or dict)."""
    get = rl.get if hasattr(rl, "get") else (lambda k, d=None: getattr(rl, k, d))
    name = str(get("algorithm", "grpo")).lower()
    preset = {**BASE, **ALGORITHMS.get(name)}

    def pick(key):
        v = get(key, None)
        if v is None or (isinstance(v, str) and v.lower() in ("", "auto")):
            return preset[key]
        return v

    group = int(pick("group_size"))
    num_expert = int(pick("num_expert"))
    batch_mode = preset["batch_mode"]
    if group < 1:
        raise ValueError(f"rl.group_size must be >= 1, got {group}")
    if batch_mode == "mixed" and num_expert < 1:
        raise ValueError(f"{name} mixes expert trajectories into the group: rl.num_expert must be >= 1")
    loss = LossConfig(
        name=str(pick("loss")), clip_eps_low=float(pick("clip_eps_low")), clip_eps_high=float(pick("clip_eps_high")),
        dual_clip=float(get("dual_clip", 0.0) or 0.0), kl_coef=float(get("kl_coef", 0.0) or 0.0),
        kl_type=str(get("kl_type", "k3")), entropy_coef=float(get("entropy_coef", 0.0) or 0.0),
        agg_mode=str(pick("agg_mode")), agg_constant=float(get("agg_constant", 0.0) or 0.0),
        luffy_gamma=float(get("luffy_gamma", 0.1)), srft_sft_scale=float(get("srft_sft_scale", 0.5)),
        srft_pos_scale=float(get("srft_pos_scale", 0.1)), srft_off_term=str(get("srft_off_term", "logp")),
        sft_coef=float(get("sft_coef", 1.0)))
    from jaxpt.rl.registry import get_advantage, get_loss

    get_loss(loss.name)  # fail early on unknown names
    advantage = str(pick("advantage"))
    get_advantage(advantage)
    return RLAlgo(name=name, batch_mode=batch_mode, group_size=group,
                  num_expert=num_expert if batch_mode == "mixed" else 0, advantage=advantage,
                  dynamic_sampling=_onoff(get("dynamic_sampling", None), preset["dynamic_sampling"]),
                  overlong_shaping=_onoff(get("overlong_shaping", None), preset["overlong_shaping"]),
                  loss=loss)
