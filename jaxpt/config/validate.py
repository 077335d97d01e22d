"""Value checks on a config tree before anything loads, each naming the dotted key at fault."""
import math

from jaxpt.config.stages import pipeline_config, rl_config, sft_config

DTYPES = ("float32", "bfloat16", "float16")
NORMALIZE = ("none", "gsm8k", "boxed")


class ConfigValueError(ValueError):
    pass


def _kind(cfg) -> str:
    if "schedule" in cfg:
        return "pipeline"
    return "sft" if "sft" in cfg else "rl"


def _one_of(cfg, key: str, allowed) -> None:
    value = _get(cfg, key)
    if value not in allowed:
        raise ConfigValueError(f"{key} = {value!r}; expected one of {', '.join(map(repr, allowed))}")


def _get(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def _at_least(cfg, key: str, low, allow=()) -> None:
    value = _get(cfg, key)
    if value in allow:
        return
    if value is None or value < low:
        raise ConfigValueError(f"{key} = {value!r}; must be >= {low}" + (f" (or {allow})" if allow else ""))


def validate(cfg, kind: str = ""):
    """Raises ConfigValueError on a value no stage could run with; returns cfg."""
    kind = kind or _kind(cfg)
    _check_no_nan(cfg)
    _one_of(cfg, "model.param_dtype", DTYPES)
    _one_of(cfg, "model.dtype", DTYPES)
    _one_of(cfg, "model.remat", ("none", "full", "dots"))
    _one_of(cfg, "model.attention_impl", ("", "einsum", "dot_product", "chunked"))
    if not cfg.model.init_from:
        raise ConfigValueError("model.init_from is empty: give an HF directory, a jaxpt checkpoint or a preset")
    _one_of(cfg, "prompt.chat_template", ("auto", "always", "never"))
    for key in ("prompt.template", "prompt.plain_template"):
        if "{question}" not in _get(cfg, key):
            raise ConfigValueError(f"{key} = {_get(cfg, key)!r} has no {{question}} placeholder")
    _check_mesh(cfg)
    for key in ("data.sft.normalize", "data.rl.normalize"):
        _one_of(cfg, key, NORMALIZE)
    for key in ("data.sft.max_len", "data.sft.limit", "data.val.size", "data.rl.limit", "data.rl.max_prompt_len",
                "eval.limit", "log.every", "log.samples", "checkpoint.max_to_keep"):
        _at_least(cfg, key, 0)
    _check_optim(cfg, "optim", cfg.optim.to_dict())
    _one_of(cfg, "guard.nonfinite_policy", ("stop", "skip"))
    _at_least(cfg, "guard.max_consecutive_skips", 1)
    _at_least(cfg, "guard.flat_steps", 0)
    _one_of(cfg, "eval.grading", ("strict", "lenient"))
    _at_least(cfg, "eval.n", 1)
    _at_least(cfg, "eval.batch_size", 1)
    _at_least(cfg, "eval.max_new_tokens", 1)
    _at_least(cfg, "eval.temperature", 0.0)
    if not 0.0 < cfg.eval.top_p <= 1.0:
        raise ConfigValueError(f"eval.top_p = {cfg.eval.top_p!r}; must be in (0, 1]")
    names = [n.strip() for n in str(cfg.eval.benchmarks).split(",") if n.strip()]
    from jaxpt.eval.benchmarks import BENCHMARKS

    for n in names:
        if n not in BENCHMARKS:
            raise ConfigValueError(f"eval.benchmarks: unknown benchmark {n!r}; known: {', '.join(BENCHMARKS)}")
    if not cfg.data.sft.source and (kind == "sft" or (kind == "pipeline" and cfg.schedule.paradigm != "pure_rl")):
        raise ConfigValueError("data.sft.source is empty: give 'toy' or a trajectory file (question, solution, "
                               "answer)")
    if "sft" in cfg:
        _check_sft(cfg)
    if "rl" in cfg:
        _check_rl(cfg, kind)
    if kind == "pipeline":
        _check_schedule(cfg)
    _check_unused_optim(cfg, kind)
    return cfg


def _check_mesh(cfg) -> None:
    sizes = {k: cfg.mesh[k] for k in ("data", "fsdp", "tensor")}
    for k, v in sizes.items():
        if not isinstance(v, int) or (v != -1 and v < 1):
            raise ConfigValueError(f"mesh.{k} = {v!r}; must be a positive size or -1")
    if list(sizes.values()).count(-1) > 1:
        raise ConfigValueError(f"mesh: at most one axis may be -1, got {sizes}")
    from jaxpt.parallel.rules import RULE_SETS

    _one_of(cfg, "mesh.rules", tuple(RULE_SETS))


def _check_no_nan(cfg, prefix: str = "") -> None:
    """NaN passes every `<` / `>=` comparison below, so it is refused up front, wherever it is set."""
    for key in cfg.keys():
        value = cfg[key]
        if hasattr(value, "keys"):
            _check_no_nan(value, f"{prefix}{key}.")
        elif isinstance(value, float) and math.isnan(value):
            raise ConfigValueError(f"{prefix}{key} = nan; must be a number")


def _check_optim(cfg, prefix: str, o: dict) -> None:
    for key, value in o.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigValueError(f"{prefix}.{key} = {value!r}; must be finite")
    if o.get("schedule") is not None and o["schedule"] not in ("constant", "cosine"):
        raise ConfigValueError(f"{prefix}.schedule = {o['schedule']!r}; expected 'constant' or 'cosine'")
    for key in ("lr", "warmup_steps", "min_lr_ratio", "weight_decay", "clip_norm", "eps"):
        if o.get(key) is not None and o[key] < 0:
            raise ConfigValueError(f"{prefix}.{key} = {o[key]!r}; must be >= 0")
    for key in ("b1", "b2"):
        if o.get(key) is not None and not 0.0 <= o[key] < 1.0:
            raise ConfigValueError(f"{prefix}.{key} = {o[key]!r}; must be in [0, 1)")


def _check_sft(cfg) -> None:
    s = cfg.sft
    for key in ("total_steps", "batch_rows", "grad_accum"):
        _at_least(cfg, f"sft.{key}", 1)
    for key in ("eval_every", "score_every", "checkpoint_every", "stop_at_step", "eval_batch_rows"):
        _at_least(cfg, f"sft.{key}", 0)
    _at_least(cfg, "sft.loss_chunk", 0, allow=(-1,))
    if s.batch_rows % s.grad_accum:
        raise ConfigValueError(f"sft.batch_rows = {s.batch_rows} must divide by sft.grad_accum = {s.grad_accum}")
    seq = cfg.data.sft.seq_len or cfg.data.sft.max_len
    if seq < cfg.data.sft.max_len:
        raise ConfigValueError(f"data.sft.seq_len = {cfg.data.sft.seq_len} < data.sft.max_len = "
                               f"{cfg.data.sft.max_len}: a row must hold the longest example")
    _check_optim(cfg, "sft.optim", s.optim.to_dict())


def _check_rl(cfg, kind: str) -> None:
    r = cfg.rl
    if kind != "pipeline":
        from jaxpt.rl.algorithms import ALGORITHMS

        if r.algorithm not in ALGORITHMS:
            raise ConfigValueError(f"rl.algorithm = {r.algorithm!r}; known: {', '.join(ALGORITHMS.names())}")
    for key in ("total_steps", "gen_prompts", "max_new_tokens", "ppo_epochs", "num_minibatches", "max_gen_rounds",
                "gen_streams"):
        _at_least(cfg, f"rl.{key}", 1)
    for key in ("eval_every", "checkpoint_every", "stop_at_step", "train_prompts", "gen_batch_prompts",
                "micro_batch_rows", "top_k", "temperature", "train_temperature", "kl_coef", "entropy_coef"):
        _at_least(cfg, f"rl.{key}", 0)
    _at_least(cfg, "rl.loss_chunk", 0, allow=(-1,))
    if r.group_size is not None:
        _at_least(cfg, "rl.group_size", 1)
    _one_of(cfg, "rl.speculate", ("safe", "always", "off"))
    _one_of(cfg, "rl.grading", ("strict", "lenient"))
    _one_of(cfg, "rl.ds_metric", ("acc", "reward"))
    _one_of(cfg, "rl.kl_type", ("k1", "k2", "k3"))
    if not 0.0 < r.top_p <= 1.0:
        raise ConfigValueError(f"rl.top_p = {r.top_p!r}; must be in (0, 1]")
    _check_optim(cfg, "rl.optim", r.optim.to_dict())


def _check_schedule(cfg) -> None:
    from jaxpt.schedule.scheduler import PARADIGMS, SWITCH_MODES

    s = cfg.schedule
    _one_of(cfg, "schedule.paradigm", PARADIGMS)
    _one_of(cfg, "schedule.switch_mode", SWITCH_MODES)
    _one_of(cfg, "schedule.rl_algorithm", ("grpo", "drgrpo", "dapo", "dapo_d", "dapo_dc"))
    if s.switch_mode == "step" and s.switch_step <= 0:
        raise ConfigValueError("schedule.switch_mode = 'step' needs schedule.switch_step > 0")
    if s.switch_mode == "flops" and s.switch_flops <= 0:
        raise ConfigValueError("schedule.switch_mode = 'flops' needs schedule.switch_flops > 0")
    if s.paradigm in ("sequential", "pure_sft") and cfg.sft.eval_every <= 0:
        raise ConfigValueError(f"schedule.paradigm = {s.paradigm!r} watches the SFT validation loss: "
                               "sft.eval_every must be > 0")
    if not cfg.eval.benchmarks and not cfg.eval.source:
        raise ConfigValueError("the pipeline scores every stage: set eval.benchmarks and/or eval.source")
    _check_forecast(cfg)


FORECAST_KEYS = ("probe_flops", "probe_every", "probe_confidence", "probe_patience", "probe_target", "budget_flops",
                 "forecast_prior")


def _check_forecast(cfg) -> None:
    """The forecast switch and the RL stop rule: their keys act only in their modes, so a key set elsewhere is
    an error rather than silently ignored."""
    import os

    s, r = cfg.schedule, cfg.rl
    defaults = pipeline_config()
    if s.switch_mode != "forecast":
        for key in FORECAST_KEYS:
            if s[key] != defaults.schedule[key]:
                raise ConfigValueError(f"schedule.{key} = {s[key]!r} acts only with schedule.switch_mode = "
                                       f"'forecast' (it is {s.switch_mode!r})")
    else:
        if s.paradigm != "sequential":
            raise ConfigValueError(f"schedule.switch_mode = 'forecast' branches SFT into RL: schedule.paradigm "
                                   f"must be 'sequential', not {s.paradigm!r}")
        if s.probe_flops <= 0:
            raise ConfigValueError("schedule.switch_mode = 'forecast' needs schedule.probe_flops > 0 (RL FLOPs "
                                   "per probe)")
        if s.continue_sft_after_switch:
            raise ConfigValueError("schedule.continue_sft_after_switch has no meaning with switch_mode = "
                                   "'forecast' (SFT stops where the forecast decides)")
        _at_least(cfg, "schedule.probe_every", 1)
        _at_least(cfg, "schedule.probe_patience", 1)
        _at_least(cfg, "schedule.budget_flops", 0.0)
        _one_of(cfg, "schedule.probe_target", ("horizon", "ceiling"))
        if not 0.5 <= s.probe_confidence < 1.0:
            raise ConfigValueError(f"schedule.probe_confidence = {s.probe_confidence!r}; must be in [0.5, 1)")
        if s.budget_flops > 0 and s.probe_target != "horizon":
            raise ConfigValueError("schedule.budget_flops plans for the score at the budget: schedule.probe_target "
                                   "must be 'horizon'")
        if s.forecast_prior and not os.path.isfile(s.forecast_prior):
            raise ConfigValueError(f"schedule.forecast_prior = {s.forecast_prior!r} is not a file")
    _one_of(cfg, "rl.stop", ("budget", "forecast"))
    bounds = {k: r[k] for k in ("stop_gain_per_eflop", "stop_remaining")}
    for k, v in bounds.items():
        _at_least(cfg, f"rl.{k}", 0.0)
    if r.stop == "budget" and any(bounds.values()):
        raise ConfigValueError(f"rl.{next(k for k, v in bounds.items() if v)} acts only with rl.stop = 'forecast'")
    if r.stop == "forecast" and not any(bounds.values()):
        raise ConfigValueError("rl.stop = 'forecast' needs rl.stop_gain_per_eflop > 0 and/or rl.stop_remaining > 0")
    uses_evals = s.switch_mode == "forecast" or r.stop == "forecast"
    if uses_evals and (r.eval_every <= 0 or not r.eval_at_start):
        raise ConfigValueError("the forecast reads RL evaluations: rl.eval_every must be > 0 and rl.eval_at_start "
                               "True (the branch point is the curve's first point)")
    if r.stop == "forecast" and s.paradigm == "pure_sft":
        raise ConfigValueError("rl.stop = 'forecast' with schedule.paradigm = 'pure_sft': there is no RL to stop")


def _check_unused_optim(cfg, kind: str) -> None:
    """A shared optim key set away from its default while every stage of this tree overrides it changes
    nothing: say so rather than ignore it."""
    stages = [s for s in ("sft", "rl") if s in cfg]
    defaults = {"sft": sft_config, "rl": rl_config, "pipeline": pipeline_config}[kind]().optim.to_dict()
    for key, value in cfg.optim.to_dict().items():
        if value != defaults[key] and stages and all(cfg[s].optim[key] is not None for s in stages):
            owners = " and ".join(f"{s}.optim.{key}" for s in stages)
            raise ConfigValueError(f"optim.{key} = {value!r} is unused: {owners} override it")
