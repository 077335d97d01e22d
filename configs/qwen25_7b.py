"""The paper's Qwen2.5-7B recipe (accelerators; not for CPU), shared by sft_qwen25_7b, rl_qwen25_7b_dapo and
pipeline_qwen25_7b.

SFT (the paper): lr 1e-5, batch 512 sequences, max length 12000. We pack documents into rows of 12288 tokens
(a multiple of loss_chunk); with SFT889K's mean length of 3771 tokens, 160 rows hold ~512 sequences, so a
step sees about the paper's batch without padding to 12000 (FLOPs are counted per sequence as in the paper).
Memory: bf16 compute, full remat, FSDP over all devices, 20 micro-batches of 8 rows, chunked loss.

RL (algorithms.md section 6): DAPO_dc = dynamic sampling + clip-higher (token-mean loss), no KL, no entropy
term, binary reward, no overlong shaping; 128 generation prompts, 64 training prompts, G = 8, one update per
step, lr 1e-6, grad clip 1.0, max prompt 1024, max response 8192, temperature 0.7, top-p 1.0; groups with
1..7 of 8 correct kept, at most 10 generation rounds.

Evaluation: the six benchmarks (count-weighted pass@1 at temperature 0.7 as in the paper).
"""


def shared(c) -> None:
    c.model.init_from = "/path/to/Qwen2.5-7B"  # HF directory (or a jaxpt checkpoint); its tokenizer is used
    c.model.param_dtype = "float32"  # fp32 master weights and Adam moments; compute in bf16
    c.model.dtype = "bfloat16"
    c.model.remat = "full"
    c.model.attention_impl = "chunked"  # 12K-token rows: no [T, T] scores in memory (or dot_product on GPUs)
    c.model.scan_layers = True  # one compiled layer: minutes less to compile at 28 layers
    c.prompt.template = "{question}"
    c.prompt.system_prompt = "Please reason step by step, and put your final answer within \\boxed{}."
    c.mesh.data = 1
    c.mesh.fsdp = -1
    c.mesh.tensor = 1
    c.optim.weight_decay = 0.0
    c.optim.clip_norm = 1.0
    c.checkpoint.max_to_keep = 2
    c.log.every = 1
    c.eval.benchmarks = "gsm8k,math500,aime24,amc23,minerva_math,olympiadbench"
    c.eval.max_new_tokens = 8192
    c.eval.temperature = 0.7
    c.eval.top_p = 1.0
    c.eval.batch_size = 128


def sft(c) -> None:
    c.data.sft.source = "/path/to/sft889k.jsonl"
    c.data.val.size = 1000  # held-out trajectories for the validation loss
    c.data.sft.max_len = 12000
    c.data.sft.seq_len = 12288
    c.data.sft.pack = True
    s = c.sft
    s.total_steps = 3600  # ~2 epochs of 889K at 512 sequences per step
    s.batch_rows = 160
    s.grad_accum = 20
    s.loss_chunk = 1024  # never materialise [rows, 12288, 152064] logits
    s.eval_every = 360  # the paper's checkpoint interval
    s.eval_batch_rows = 8
    s.checkpoint_every = 360
    s.optim.lr = 1e-5
    s.optim.schedule = "cosine"
    s.optim.warmup_steps = 100
    s.optim.b2 = 0.95


def rl(c) -> None:
    c.data.rl.source = "/path/to/dapo17k.jsonl"  # question + answer
    c.data.rl.max_prompt_len = 1024
    r = c.rl
    r.total_steps = 500
    r.gen_prompts = 128
    r.train_prompts = 64
    r.group_size = 8
    r.max_new_tokens = 8192
    r.temperature = 0.7
    r.top_p = 1.0
    r.train_temperature = 0.0  # = rollout temperature (verl convention)
    r.reward_correct = 1.0
    r.reward_wrong = 0.0
    r.dynamic_sampling = True
    r.ds_metric = "acc"  # keeps groups with 1..7 of 8 correct
    r.max_gen_rounds = 10
    r.gen_batch_prompts = 32  # 256 rollouts per sampler call (KV cache of 9216 slots per row)
    r.overlong_shaping = False
    r.clip_eps_low = 0.2
    r.clip_eps_high = 0.28
    r.agg_mode = "token-mean"
    r.kl_coef = 0.0
    r.entropy_coef = 0.0
    r.ppo_epochs = 1
    r.num_minibatches = 1  # one update per step
    r.micro_batch_rows = 8  # 512 rows of up to 9216 tokens: gradient accumulation over 64 micro-batches
    r.loss_chunk = 1024  # LM head over 1024-position chunks (152K vocabulary)
    r.eval_every = 10
    r.checkpoint_every = 10
    r.optim.lr = 1e-6
    r.optim.schedule = "constant"
    r.optim.warmup_steps = 0
