"""Named RL paradigms as frozen, validated presets, and the resolution of a config's `rl` section against them.

A preset fixes every choice that makes the paradigm (loss, advantage estimator, batch construction, clipping,
aggregation, dynamic sampling, overlong shaping). A config key left None means "the preset's value"; a set
value overrides it and is validated like the preset itself (no -1 / "" placeholders). Adding a paradigm =
registering a Preset (and, if it needs new math, a loss / advantage estimator in their registries).

batch modes:
    rollouts  G on-policy rollouts per prompt (GRPO, DAPO)
    mixed     G on-policy rollouts + num_expert expert trajectories in the same group (LUFFY, SRFT)
    gated     G rollouts; prompts with <= upt_gate solved train their expert trajectory with SFT NLL (UPT)
"""
import dataclasses

from jaxpt.rl.advantages import ADVANTAGES
from jaxpt.rl.losses import AGG_MODES, LOSSES, LossConfig
from jaxpt.utils.registry import Registry

BATCH_MODES = ("rollouts", "mixed", "gated")
ALGORITHMS = Registry("RL algorithm")


@dataclasses.dataclass(frozen=True)
class Preset:
    """The choices of one paradigm. Every field is also an `rl.<field>` config key that overrides it."""
    name: str
    batch_mode: str = "rollouts"
    group_size: int = 8
    num_expert: int = 0
    advantage: str = "grpo"
    loss: str = "ppo"
    agg_mode: str = "seq-mean-token-mean"
    clip_eps_low: float = 0.2
    clip_eps_high: float = 0.2
    dynamic_sampling: bool = False
    overlong_shaping: bool = False

    def __post_init__(self):
        def bad(key, why):
            raise ValueError(f"rl.{key} = {getattr(self, key)!r} ({self.name}): {why}")

        if self.batch_mode not in BATCH_MODES:
            bad("batch_mode", f"one of {BATCH_MODES}")
        if not isinstance(self.group_size, int) or self.group_size < 1:
            bad("group_size", "must be an integer >= 1")
        if not isinstance(self.num_expert, int) or self.num_expert < 0:
            bad("num_expert", "must be an integer >= 0")
        if self.batch_mode == "mixed" and self.num_expert < 1:
            bad("num_expert", "this algorithm mixes expert trajectories into the group: must be >= 1")
        if self.advantage not in ADVANTAGES:
            bad("advantage", f"known: {', '.join(ADVANTAGES.names())}")
        if self.loss not in LOSSES:
            bad("loss", f"known: {', '.join(LOSSES.names())}")
        if self.agg_mode not in AGG_MODES:
            bad("agg_mode", f"one of {AGG_MODES}")
        for key in ("clip_eps_low", "clip_eps_high"):
            if not 0.0 <= getattr(self, key) < 1.0:
                bad(key, "must be in [0, 1)")
        for key in ("dynamic_sampling", "overlong_shaping"):
            if not isinstance(getattr(self, key), bool):
                bad(key, "must be true or false")


def _register(preset: Preset) -> Preset:
    return ALGORITHMS.register(preset.name, preset)


GRPO = _register(Preset("grpo"))  # DeepSeekMath GRPO: std-normalised advantages, seq-mean-token-mean
DRGRPO = _register(Preset("drgrpo", advantage="drgrpo", agg_mode="seq-mean-token-sum"))
# DAPO and the paper's ablations (verl's token-mean aggregation in all of them):
#   dapo_d: dynamic sampling; dapo_dc: + clip-higher (the paper's main RL recipe); dapo: + overlong shaping.
DAPO_D = _register(Preset("dapo_d", dynamic_sampling=True, agg_mode="token-mean"))
DAPO_DC = _register(dataclasses.replace(DAPO_D, name="dapo_dc", clip_eps_high=0.28))
DAPO = _register(dataclasses.replace(DAPO_DC, name="dapo", overlong_shaping=True))
# Synchronized SFT+RL baselines (algorithms.md section 7).
LUFFY = _register(Preset("luffy", loss="luffy", advantage="luffy", group_size=7, num_expert=1, agg_mode="token-mean",
                         batch_mode="mixed"))
SRFT = _register(Preset("srft", loss="srft", advantage="luffy", num_expert=1, agg_mode="token-mean",
                        batch_mode="mixed"))
UPT = _register(Preset("upt", loss="upt", agg_mode="token-mean", batch_mode="gated"))
ALGORITHMS.register("hpt", UPT)

PRESET_KEYS = tuple(f.name for f in dataclasses.fields(Preset) if f.name not in ("name", "batch_mode"))


@dataclasses.dataclass(frozen=True)
class RLAlgo:
    """A resolved algorithm: the preset with the config's overrides, and the loss settings of the update."""
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


def _as_bool(key: str, value) -> bool:
    """Booleans, and the on/off spellings of a command line."""
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("on", "true", "1", "yes"):
        return True
    if s in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"rl.{key} = {value!r}: expected true/false (or on/off)")


def resolve(rl) -> RLAlgo:
    """The resolved algorithm of an `rl` config section (ConfigDict or dict): None keys take the preset's value."""
    get = rl.get if hasattr(rl, "get") else (lambda k, d=None: getattr(rl, k, d))
    name = str(get("algorithm", "grpo")).lower()
    preset: Preset = ALGORITHMS.get(name)
    overrides = {}
    for key in PRESET_KEYS:
        v = get(key, None)
        if v is None:
            continue
        if key in ("dynamic_sampling", "overlong_shaping"):
            v = _as_bool(key, v)
        elif key in ("group_size", "num_expert") and isinstance(v, float) and v.is_integer():
            v = int(v)
        elif key in ("clip_eps_low", "clip_eps_high") and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        overrides[key] = v
    p = dataclasses.replace(preset, **overrides)  # validates
    loss = LossConfig(
        name=p.loss, clip_eps_low=p.clip_eps_low, clip_eps_high=p.clip_eps_high,
        dual_clip=float(get("dual_clip", 0.0) or 0.0), kl_coef=float(get("kl_coef", 0.0) or 0.0),
        kl_type=str(get("kl_type", "k3")), entropy_coef=float(get("entropy_coef", 0.0) or 0.0),
        agg_mode=p.agg_mode, agg_constant=float(get("agg_constant", 0.0) or 0.0),
        luffy_gamma=float(get("luffy_gamma", 0.1)), srft_sft_scale=float(get("srft_sft_scale", 0.5)),
        srft_pos_scale=float(get("srft_pos_scale", 0.1)), srft_off_term=str(get("srft_off_term", "logp")),
        sft_coef=float(get("sft_coef", 1.0)))
    return RLAlgo(name=name, batch_mode=p.batch_mode, group_size=p.group_size,
                  num_expert=p.num_expert if p.batch_mode == "mixed" else 0, advantage=p.advantage,
                  dynamic_sampling=p.dynamic_sampling, overlong_shaping=p.overlong_shaping, loss=loss)
