"""Settings of the embedded arithmetic task that every toy config shares (sft_tiny, rl_tiny, default, study).

Sizes follow what trained in minutes on a 2-core CPU (shared docs/toy-task-notes.md): a 0.75M-parameter
Qwen2-style model (hidden 128, 4 layers, 4/2 heads), AdamW lr 2e-3 constant after 50 warm-up steps, b2 0.98,
~64-75 sequences per step for SFT; GRPO with 16 prompts x 8 samples at temperature 1.0 and lr 1e-4 for RL.
With toy noise 0.3 the validation loss reaches a minimum and then rises (overfitting).
"""


def shared(c) -> None:
    """Model, tokenizer, data and prompt of the toy task (any tree)."""
    c.model.init_from = "tiny-qwen"
    c.model.overrides.update(dict(hidden_size=128, intermediate_size=352, num_layers=4, num_heads=4,
                                  num_kv_heads=2))
    c.tokenizer = ""  # a preset on the toy task: the toy character tokenizer
    c.prompt.template = "{question}"  # the task's question is its own instruction ("...=?")
    c.data.sft.source = "toy"
    c.data.toy.preset = "uniform"
    c.data.toy.noise = 0.3
    c.data.sft.max_len = 128
    c.data.sft.seq_len = 128  # ~2.4 toy documents per packed row
    c.data.sft.pack = True
    c.eval.source = "toy"  # the task's 500 held-out test problems (greedy)
    c.eval.max_new_tokens = 64
    c.eval.batch_size = 256
    c.log.every = 20


def sft(c) -> None:
    s = c.sft
    s.total_steps = 1500
    s.batch_rows = 32  # x 128 tokens: ~75 sequences per step
    s.eval_every = 100
    s.checkpoint_every = 500
    s.optim.lr = 2e-3
    s.optim.schedule = "constant"
    s.optim.warmup_steps = 50
    s.optim.b2 = 0.98


def rl(c) -> None:
    r = c.rl
    r.total_steps = 60
    r.gen_prompts = 16
    r.train_prompts = 16  # dynamic sampling (dapo*) keeps 16 informative groups, generating 16 per round
    r.max_new_tokens = 64
    r.temperature = 1.0
    r.max_gen_rounds = 4
    r.overlong_cache_len = 16
    r.eval_every = 10
    r.checkpoint_every = 20
    r.optim.lr = 1e-4
