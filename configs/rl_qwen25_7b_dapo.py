"""The paper's RL recipe on Qwen2.5-7B (algorithms.md section 6): DAPO_dc = dynamic sampling + clip-higher
(token-mean loss), no KL, no entropy term, binary reward, no overlong shaping; 128 generation prompts,
64 training prompts, G = 8, one update per step, lr 1e-6, grad clip 1.0, max prompt 1024, max response
8192, temperature 0.7, top-p 1.0; groups with 1..7 of 8 correct kept, at most 10 generation rounds; bf16
on a mesh (FSDP over 8 devices by default).

    python -m launch.rl --config=configs/rl_qwen25_7b_dapo.py --init=/ckpt/qwen25-7b-sft \
        --config.data.source=/data/dapo17k.jsonl
Evaluation: the six benchmarks of the shared data (count-weighted pass@1 at temperature 0.7 as in the paper;
set --config.eval.benchmarks=math500 for a cheaper curve).
"""
from jaxpt.rl.rl_config import default_config


def get_config():
    c = default_config()
    c.workdir = "runs/rl_qwen25_7b_dapo_dc"
    c.tokenizer = ""  # "" = the init checkpoint's tokenizer files (HF dirs carry them); else "qwen2.5"
    c.model.param_dtype = "bfloat16"
    c.model.dtype = "bfloat16"
    c.model.remat = "full"
    c.model.scan_layers = False

    # Prompts: a question/answer file (e.g. DAPO-Math-17k); held-out evaluation e.g. MATH500.
    c.data.source = "toy"  # set --config.data.source=<prompts .jsonl/.parquet>
    c.data.eval_source = ""
    c.data.eval_size = 500
    c.data.system_prompt = ("Please reason step by step, and put your final answer within \\boxed{}.")
    c.data.chat_template = "auto"
    c.data.max_prompt_len = 1024

    c.rl.algorithm = "dapo_dc"
    c.rl.total_steps = 500
    c.rl.gen_prompts = 128
    c.rl.train_prompts = 64
    c.rl.group_size = 8
    c.rl.max_new_tokens = 8192
    c.rl.temperature = 0.7
    c.rl.top_p = 1.0
    c.rl.train_temperature = 0.0  # = rollout temperature (verl convention)
    c.rl.reward_correct = 1.0
    c.rl.reward_wrong = 0.0
    c.rl.dynamic_sampling = "on"
    c.rl.ds_metric = "acc"  # keeps groups with 1..7 of 8 correct
    c.rl.max_gen_rounds = 10
    c.rl.gen_batch_prompts = 32  # 256 rollouts per sampler call (KV cache of 9216 slots per row)
    c.rl.overlong_shaping = "off"
    c.rl.clip_eps_low = 0.2
    c.rl.clip_eps_high = 0.28
    c.rl.agg_mode = "token-mean"
    c.rl.kl_coef = 0.0
    c.rl.entropy_coef = 0.0
    c.rl.ppo_epochs = 1
    c.rl.num_minibatches = 1  # one update per step
    c.rl.micro_batch_rows = 8  # 512 rows of up to 9216 tokens: gradient accumulation over 64 micro-batches
    c.rl.loss_chunk = 1024  # LM head over 1024-position chunks (152K vocabulary)
    c.rl.compute_entropy = True

    c.optim.lr = 1e-6
    c.optim.schedule = "constant"
    c.optim.warmup_steps = 0
    c.optim.weight_decay = 0.0
    c.optim.clip_norm = 1.0

    c.eval.every = 10
    c.eval.benchmarks = "gsm8k,math500,aime24,amc23,minerva_math,olympiadbench"
    c.eval.batch_prompts = 128
    c.eval.max_new_tokens = 8192
    c.eval.temperature = 0.7
    c.eval.top_p = 1.0

    c.checkpoint.every = 10
    c.checkpoint.max_to_keep = 2

    c.mesh.enabled = True
    c.mesh.data = 1
    c.mesh.fsdp = -1
    c.mesh.tensor = 1
    return c
