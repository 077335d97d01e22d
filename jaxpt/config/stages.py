"""Stage sections and the three config trees built from the shared sections.

    sft_config()       shared sections + workdir + sft
    rl_config()        shared sections + workdir + rl (rl.algorithm picks the algorithm)
    pipeline_config()  shared sections + name/out_dir + sft + rl + schedule (the schedule picks the algorithm)

Each stage section holds what only that stage has (steps, batch shapes, cadences, losses) and an `optim`
override section: the stage's own value of any optim key, the shared `optim` otherwise.
"""
import ml_collections
from ml_collections.config_dict import placeholder

from jaxpt.config import sections as S
from jaxpt.config.schema import override_section, section

SHARED = ("tokenizer", "model", "prompt", "mesh", "data", "optim", "checkpoint", "guard", "log", "eval")


def _shared(c: ml_collections.ConfigDict) -> None:
    c.seed = 0
    c.tokenizer = ""
    from jaxpt.config.schema import DOCS

    DOCS["seed"] = "parameter initialisation (random init), sampling and shuffles derive from it"
    DOCS["tokenizer"] = ("'' = the model's own (HF directory or jaxpt checkpoint; 'toy' for a preset on the toy "
                         "task), or 'toy', 'qwen2.5', 'smollm2', a tokenizer directory")
    c.model = S.model_section()
    c.prompt = S.prompt_section()
    c.mesh = S.mesh_section()
    c.data = S.data_section()
    c.optim = S.optim_section()
    c.checkpoint = S.checkpoint_section()
    c.guard = S.guard_section()
    c.log = S.log_section()
    c.eval = S.eval_section()


def sft_section() -> ml_collections.ConfigDict:
    s = section("sft", [
        ("total_steps", 1000, "optimizer steps"),
        ("batch_rows", 16, "rows of seq_len tokens per step (all micro-batches together)"),
        ("grad_accum", 1, "micro-batches per step (batch_rows must divide by it)"),
        ("loss_chunk", -1, "LM head + loss over chunks of this many positions (-1 auto, 0 off)"),
        ("stop_at_step", 0, "stop (and checkpoint) here without changing the schedule (0 = off)"),
        ("eval_every", 100, "validation loss every N steps (0 = never)"),
        ("eval_at_start", True, "validation loss before the first step"),
        ("eval_batch_rows", 0, "rows per validation batch (0 = a micro-batch)"),
        ("score_every", 0, "generate and grade the eval problems at every N-th validation (0 = never)"),
        ("checkpoint_every", 500, "train-state checkpoint every N steps (0 = never; the last step is "
                                  "always saved)"),
        ("export_best", True, "export the lowest-validation-loss model to <workdir>/best_model"),
        ("export_every_eval", False, "also export <workdir>/models/step_<n> at each validation"),
    ])
    s.optim = override_section("sft.optim", S.optim_section(), "optim")
    return s


def rl_section(with_algorithm: bool = True) -> ml_collections.ConfigDict:
    items = [("algorithm", "grpo", "grpo, drgrpo, dapo, dapo_d, dapo_dc, luffy, srft, upt")] if with_algorithm else []
    s = section("rl", items + [
        ("total_steps", 100, "RL steps"),
        ("stop_at_step", 0, "stop (and checkpoint) here without changing the schedule (0 = off)"),
        ("gen_prompts", 16, "prompts generated per round (B_gen)"),
        ("train_prompts", 0, "prompt groups trained per step (B_train; 0 = gen_prompts)"),
        ("gen_batch_prompts", 0, "prompts per sampler call (memory; 0 = a whole round / gen_streams)"),
        ("gen_streams", 1, "sampler calls run at once, from threads (single process only; 2 fills the cores a "
                           "CPU host leaves idle during decode: 15% faster generation measured on 2 cores)"),
        ("group_size", placeholder(int), "on-policy rollouts per prompt G (unset: the algorithm's, 8; LUFFY 7)"),
        ("num_expert", placeholder(int), "expert trajectories per group (unset: LUFFY/SRFT 1, else 0)"),
        ("max_new_tokens", 64, "response budget in tokens"),
        ("temperature", 1.0, "rollout temperature"),
        ("top_p", 1.0, "rollout nucleus mass"),
        ("top_k", 0, "rollout top-k (0 = off)"),
        ("train_temperature", 0.0, "logits divided by this in the trainer (0 = the rollout temperature)"),
        ("recompute_old_logprobs", False, "old logprobs from a trainer forward instead of the sampler's"),
        ("reward_correct", 1.0, "reward of a verified answer"),
        ("reward_wrong", 0.0, "reward otherwise"),
        ("grading", "strict", "how rollouts are graded: strict (only \\boxed{} answers) or lenient (the "
                              "evaluation's rule); a cut-off output needs an explicit final answer either way"),
        ("verifier_timeout_s", 0.0, "per-answer verifier time limit (0 = the verifier's default)"),
        ("verifier_workers", 0, "verifier worker processes (0 = the verifier's default)"),
        ("advantage", placeholder(str), "advantage estimator (unset: the algorithm's): grpo, drgrpo, luffy, "
                                        "rloo, reward"),
        ("adv_eps", 1e-6, "std floor of group-normalised advantages"),
        ("loss", placeholder(str), "policy loss (unset: the algorithm's): ppo, luffy, srft, upt, reinforce"),
        ("agg_mode", placeholder(str), "loss aggregation (unset: the algorithm's): token-mean, "
                                       "seq-mean-token-mean, seq-mean-token-sum"),
        ("agg_constant", 0.0, "seq-mean-token-sum divisor (0 = max_new_tokens)"),
        ("clip_eps_low", placeholder(float), "PPO clip below (unset: 0.2)"),
        ("clip_eps_high", placeholder(float), "PPO clip above (unset: 0.2; DAPO clip-higher 0.28)"),
        ("dual_clip", 0.0, "dual clip c > 1 for negative advantages (0 = off)"),
        ("kl_coef", 0.0, "KL to the initial policy (0 = no reference model)"),
        ("kl_type", "k3", "k1, k2 or k3"),
        ("entropy_coef", 0.0, "entropy bonus"),
        ("luffy_gamma", 0.1, "LUFFY policy shaping p / (p + gamma)"),
        ("srft_sft_scale", 0.5, "SRFT SFT-term weight scale"),
        ("srft_pos_scale", 0.1, "SRFT positive-sample weight scale"),
        ("srft_off_term", "logp", "SRFT off-policy term"),
        ("upt_gate", 0, "UPT: prompts with <= gate of G solved train the expert trajectory with SFT NLL"),
        ("sft_coef", 1.0, "weight of SFT NLL terms"),
        ("dynamic_sampling", placeholder(bool), "DAPO dynamic sampling (unset: the algorithm's)"),
        ("ds_metric", "acc", "dynamic sampling keeps groups whose acc (or reward) is not constant"),
        ("max_gen_rounds", 10, "dynamic sampling: generation rounds per step at most"),
        ("speculate", "safe", "generate the next round while scoring: safe, always or off"),
        ("overlong_shaping", placeholder(bool), "DAPO overlong reward shaping (unset: the algorithm's)"),
        ("overlong_max_len", 0, "shaping L_max (0 = max_new_tokens)"),
        ("overlong_cache_len", 16, "shaping L_cache"),
        ("overlong_penalty", 1.0, "scale of the shaping term"),
        ("overlong_filter", False, "mask the loss of truncated responses"),
        ("ppo_epochs", 1, "passes over the batch per step"),
        ("num_minibatches", 1, "updates per pass"),
        ("micro_batch_rows", 0, "rows per micro-batch (gradient accumulation; 0 = a whole mini-batch)"),
        ("loss_chunk", -1, "LM head + logprobs over chunks of this many positions (-1 auto, 0 off)"),
        ("compute_entropy", True, "log the policy entropy"),
        ("eval_every", 10, "evaluate on the eval problems every N RL steps (0 = never)"),
        ("eval_at_start", True, "evaluate before the first step"),
        ("eval_at_end", True, "evaluate after the last step"),
        ("checkpoint_every", 50, "train-state checkpoint every N steps (0 = never; the last step is always "
                                 "saved)"),
        ("export_final", True, "export the final policy to <workdir>/final_model"),
    ])
    s.optim = override_section("rl.optim", S.optim_section(), "optim")
    return s


def schedule_section() -> ml_collections.ConfigDict:
    return section("schedule", [
        ("paradigm", "sequential", "pure_sft, pure_rl, sequential (SFT then RL), luffy, srft, upt"),
        ("rl_algorithm", "grpo", "RL of sequential / pure_rl: grpo, drgrpo, dapo, dapo_d, dapo_dc"),
        ("switch_mode", "mild", "when SFT hands over to RL: mild (the paper's rule), stable, step, flops, forecast "
                                "(probe candidates with short RL runs, keep the one whose forecast is best)"),
        ("switch_step", 0, "switch_mode step: the SFT step"),
        ("switch_flops", 0.0, "switch_mode flops: the SFT FLOPs budget"),
        ("delta", 0.02, "stable band: val loss <= (1 + delta) * min"),
        ("delta2", 0.1, "mild band upper edge: (1 + delta2) * min"),
        ("patience", 2, "consecutive evaluations in the mild band before switching"),
        ("smoothing", 0.0, "EMA smoothing of the validation loss for the detector (0 = off)"),
        ("continue_sft_after_switch", False, "keep training SFT past the switch (to see the overfitting side)"),
        ("probe_flops", 0.0, "switch_mode forecast: RL FLOPs of each probe (it stops at the first evaluation "
                             "that reaches them)"),
        ("probe_every", 1, "switch_mode forecast: probe every N-th SFT validation from the first Stable point"),
        ("probe_confidence", 0.8, "switch_mode forecast: SFT goes on while P(newest candidate beats the best) is "
                                  "at least this"),
        ("probe_patience", 1, "switch_mode forecast: candidates in a row that fail to beat the best before SFT "
                              "stops"),
        ("probe_target", "horizon", "switch_mode forecast: judge candidates by the forecast score at the end of "
                                    "their RL (horizon: rl.total_steps, or the budget) or by A_post (ceiling)"),
        ("budget_flops", 0.0, "switch_mode forecast: total FLOPs (SFT + probes + RL); the plan maximises the "
                              "forecast score at the budget (0 = no budget)"),
        ("forecast_prior", "", "curves.csv of finished runs (the authors' format) whose fits give the "
                               "forecast's prior on C_mid and B ('' = a flat prior)"),
    ])


RL_STOP_KEYS = ("stop", "stop_gain_per_eflop", "stop_remaining")  # pipeline-only: the pipeline's RL hook reads them


def pipeline_rl_section() -> ml_collections.ConfigDict:
    """The pipeline's rl section: the RL stage's keys (the schedule picks the algorithm) and the stop rule."""
    s = rl_section(with_algorithm=False)
    extra = section("rl", [
        ("stop", "budget", "when RL stops: budget (rl.total_steps, or the budget plan) or forecast (also "
                           "when the forecast says it stopped paying)"),
        ("stop_gain_per_eflop", 0.0, "rl.stop forecast: stop when the marginal gain's upper bound is below "
                                     "this (score points per EFLOP; 0 = off)"),
        ("stop_remaining", 0.0, "rl.stop forecast: stop when the remaining gain's upper bound is below this "
                                "(score points; 0 = off)"),
    ])
    for key in RL_STOP_KEYS:
        s[key] = extra[key]
    return s


def sft_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.workdir = "runs/sft"
    _shared(c)
    c.sft = sft_section()
    return c


def rl_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.workdir = "runs/rl"
    _shared(c)
    c.rl = rl_section()
    return c


def pipeline_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "run"
    c.out_dir = "runs"
    _shared(c)
    c.sft = sft_section()
    c.rl = pipeline_rl_section()  # the schedule picks the algorithm (paradigm, rl_algorithm)
    c.schedule = schedule_section()
    return c


def _docs() -> None:
    from jaxpt.config.schema import DOCS

    DOCS.update({"workdir": "directory of this stage's checkpoints, metrics and exports",
                 "name": "run name: outputs go to <out_dir>/<name>", "out_dir": "parent directory of runs"})


_docs()
