"""Default RL configuration (ml_collections ConfigDict): every key run_rl reads, with its meaning.

configs/rl_*.py start from `default_config()` and change what they need; run_rl merges a partial config
(dict or ConfigDict) over these defaults. The paradigm is `rl.algorithm`; keys marked AUTO take the
algorithm's value (jaxpt/rl/algorithms.py) unless set explicitly ("" for strings, -1 for numbers).
"""
import ml_collections

from jaxpt.parallel.mesh_config import mesh_config
from jaxpt.utils.config_merge import merge_config

AUTO_STR, AUTO_NUM = "", -1


def default_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.workdir = "runs/rl"
    c.seed = 0  # rollout sampling, mini-batch shuffles and the prompt order derive from it
    # Tokenizer: "" = the init model's tokenizer directory (else "toy" for small vocabularies); "toy",
    # "qwen2.5", "smollm2", or an HF directory.
    c.tokenizer = ""

    c.model = ml_collections.ConfigDict()
    c.model.init_from = ""  # SFT checkpoint (jaxpt model dir) or HF directory; `launch.rl --init` sets it
    c.model.param_dtype = "float32"
    c.model.dtype = "float32"  # compute dtype ("bfloat16" on accelerators)
    c.model.remat = "none"
    c.model.attention_impl = ""  # "" = keep the model's
    c.model.scan_layers = False

    c.data = ml_collections.ConfigDict()
    # Prompts: "toy" (embedded task: split `toy_prompt_split`, or the SFT records for expert-mixing
    # algorithms) or a .jsonl/.json/.parquet file / hub data set with question + answer (+ solution).
    c.data.source = "toy"
    c.data.split = "train"
    c.data.fields = ml_collections.ConfigDict({"question": "question", "solution": "solution",
                                               "answer": "answer"})
    c.data.normalize = "none"
    c.data.limit = 0
    c.data.cache_dir = ""
    # Expert trajectories for LUFFY / SRFT / UPT: "" = the prompt records themselves (they must carry a
    # solution; with source "toy" that is the SFT training split), else a file like `source`.
    c.data.expert_source = ""
    c.data.expert_split = "train"
    # Held-out evaluation: "" = toy test split (source "toy") or no evaluation; else a file.
    c.data.eval_source = ""
    c.data.eval_split = "test"
    c.data.eval_size = 500  # 0 = all
    c.data.system_prompt = ""
    c.data.plain_template = "Question: {question}\nAnswer: "
    c.data.chat_template = "auto"
    c.data.max_prompt_len = 0  # prompts are left padded to this (0 = bucket of the longest); longer dropped
    c.data.shuffle_seed = 0
    c.data.toy_preset = "uniform"
    c.data.toy_seed = 0
    c.data.toy_noise = 0.3
    c.data.toy_prompt_split = "rl_prompts"
    c.data.toy_eval_split = "test"

    c.rl = ml_collections.ConfigDict()
    c.rl.algorithm = "grpo"  # grpo, drgrpo, dapo, dapo_d, dapo_dc, luffy, srft, upt (see ALGORITHMS)
    c.rl.total_steps = 100
    c.rl.stop_at_step = 0  # >0: stop (and checkpoint) here without changing the schedule
    c.rl.gen_prompts = 16  # prompts generated per round (B_gen)
    c.rl.train_prompts = 0  # prompts (groups) trained per step (B_train); 0 = gen_prompts
    c.rl.gen_batch_prompts = 0  # prompts per sampler call (memory); 0 = the whole round at once
    c.rl.group_size = AUTO_NUM  # on-policy rollouts per prompt G (AUTO: 8; LUFFY 7)
    c.rl.num_expert = AUTO_NUM  # expert trajectories per prompt in the group (AUTO: LUFFY/SRFT 1, else 0)
    c.rl.max_new_tokens = 64  # max response length (tokens)
    c.rl.temperature = 1.0
    c.rl.top_p = 1.0
    c.rl.top_k = 0
    # Logits are divided by this in the trainer's logprobs (0 = the rollout temperature, as verl does).
    c.rl.train_temperature = 0.0
    c.rl.recompute_old_logprobs = False  # True: old logprobs from a trainer forward, not the sampler's
    # Reward: verifier correct -> reward_correct, else reward_wrong ({0, 1} default, {-1, 1} optional).
    c.rl.reward_correct = 1.0
    c.rl.reward_wrong = 0.0
    c.rl.reward_strict = True  # only \boxed{} answers count
    c.rl.verifier_timeout_s = 0.0  # 0 = the verifier's default
    c.rl.verifier_workers = 0  # 0 = the verifier's default
    # Advantages and loss.
    c.rl.advantage = AUTO_STR  # ADVANTAGES entry: grpo, drgrpo, luffy, rloo, reward
    c.rl.adv_eps = 1e-6
    c.rl.loss = AUTO_STR  # LOSSES entry: ppo, luffy, srft, upt, reinforce
    c.rl.agg_mode = AUTO_STR  # token-mean, seq-mean-token-mean, seq-mean-token-sum
    c.rl.agg_constant = 0.0  # seq-mean-token-sum divisor (0 = max_new_tokens)
    c.rl.clip_eps_low = float(AUTO_NUM)  # AUTO 0.2
    c.rl.clip_eps_high = float(AUTO_NUM)  # AUTO 0.2; DAPO clip-higher 0.28
    c.rl.dual_clip = 0.0  # c > 1 enables dual clip for negative advantages
    c.rl.kl_coef = 0.0  # > 0 keeps a frozen reference (the initial policy)
    c.rl.kl_type = "k3"  # k1, k2, k3
    c.rl.entropy_coef = 0.0
    c.rl.luffy_gamma = 0.1
    c.rl.srft_sft_scale = 0.5
    c.rl.srft_pos_scale = 0.1
    c.rl.srft_off_term = "logp"
    c.rl.upt_gate = 0  # UPT: prompts with <= gate of G solved train the expert trajectory with SFT NLL
    c.rl.sft_coef = 1.0
    # DAPO dynamic sampling: keep groups whose `ds_metric` (acc | reward) is not constant; generate more
    # rounds of gen_prompts until train_prompts groups are kept or max_gen_rounds rounds ran.
    c.rl.dynamic_sampling = AUTO_STR  # "on" / "off" (AUTO by algorithm)
    c.rl.ds_metric = "acc"
    c.rl.max_gen_rounds = 10
    # Scoring overlaps generation: "safe" starts the next round while scoring only when it is certainly
    # needed; "always" speculates (an unneeded round is dropped, its compute still counted); "off".
    c.rl.speculate = "safe"
    # Overlong reward shaping (DAPO) by token length; L_max 0 = max_new_tokens.
    c.rl.overlong_shaping = AUTO_STR  # "on" / "off"
    c.rl.overlong_max_len = 0
    c.rl.overlong_cache_len = 16
    c.rl.overlong_penalty = 1.0  # scale of the shaping term
    c.rl.overlong_filter = False  # mask the loss of truncated responses
    # Updates per step: ppo_epochs passes over num_minibatches mini-batches; each mini-batch is processed in
    # micro-batches of micro_batch_rows rows (gradient accumulation; 0 = whole mini-batch).
    c.rl.ppo_epochs = 1
    c.rl.num_minibatches = 1
    c.rl.micro_batch_rows = 0
    c.rl.loss_chunk = -1  # LM head + logprobs over chunks of this many response positions; -1 auto, 0 off
    c.rl.compute_entropy = True

    c.optim = ml_collections.ConfigDict()
    c.optim.lr = 1e-6
    c.optim.schedule = "constant"  # or "cosine" (over total optimizer updates)
    c.optim.warmup_steps = 0  # optimizer updates
    c.optim.min_lr_ratio = 0.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.weight_decay = 0.0
    c.optim.clip_norm = 1.0

    c.eval = ml_collections.ConfigDict()
    c.eval.every = 10  # RL steps; 0 = never
    c.eval.at_start = True
    c.eval.at_end = True
    c.eval.batch_prompts = 0  # prompts per sampler call (0 = all, bucketed)
    c.eval.max_new_tokens = 0  # 0 = rl.max_new_tokens
    c.eval.temperature = 0.0  # 0 = greedy
    c.eval.top_p = 1.0
    c.eval.n = 1  # samples per problem (accuracy = mean over samples: avg@n)
    # Comma-separated jaxpt.eval benchmarks (gsm8k, math500, aime24, amc23, minerva_math, olympiadbench):
    # when set, the evaluation is their count-weighted pass@1 instead of the held-out records.
    c.eval.benchmarks = ""
    c.eval.benchmark_limit = 0  # problems per benchmark (0 = all)

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every = 50  # RL steps; 0 = only at the end
    c.checkpoint.max_to_keep = 2
    c.checkpoint.resume = False
    c.checkpoint.export_final = True  # <workdir>/final_model (jaxpt model checkpoint)

    c.log = ml_collections.ConfigDict()
    c.log.tensorboard = True
    c.log.progress = True
    c.log.samples = 2  # decoded sample responses per step written to samples.jsonl (0 = none)

    c.mesh = mesh_config()
    return c


FREE_FORM = ("fields",)


def merge(base: ml_collections.ConfigDict, override) -> ml_collections.ConfigDict:
    """base updated with `override` (dict or ConfigDict, possibly partial and nested); unknown keys raise.

    Values replace the defaults whatever their type (True for "on", an int for a float, ...)."""
    return merge_config(base, override, "RL", free_form=FREE_FORM, typed=False)
