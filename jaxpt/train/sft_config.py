"""Default SFT configuration (ml_collections ConfigDict): every key run_sft reads, with its meaning.

configs/sft_*.py start from `default_config()` and change what they need; run_sft merges a partial
config (dict or ConfigDict) over these defaults, so programmatic callers only pass what differs.
"""
import ml_collections

from jaxpt.parallel.mesh_config import mesh_config
from jaxpt.utils.config_merge import merge_config


def default_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.workdir = "runs/sft"
    c.seed = 0  # parameter initialisation (random-init models only)
    # Tokenizer: "toy" (char-level, embedded task), "qwen2.5", "smollm2", an HF directory or hub name;
    # "" = the directory of model.init_from.
    c.tokenizer = "toy"

    c.model = ml_collections.ConfigDict()
    c.model.init_from = ""  # HF directory or jaxpt model checkpoint; "" = random init from `preset`
    c.model.preset = "tiny-qwen"
    c.model.overrides = ml_collections.ConfigDict()  # ModelConfig fields for random init
    c.model.vocab_multiple = 8  # random init: vocab_size = len(tokenizer) rounded up (divides tensor axes)
    c.model.param_dtype = "float32"
    c.model.dtype = "float32"  # compute dtype ("bfloat16" on accelerators)
    c.model.remat = "none"  # "none", "full" or "dots"
    c.model.attention_impl = ""  # "" = keep the model's; "einsum" or "dot_product"

    c.data = ml_collections.ConfigDict()
    c.data.source = "toy"  # "toy" or a .jsonl/.json/.parquet file or hub name
    c.data.split = "train"
    c.data.val_source = ""  # "" = hold out val_size records of the source
    c.data.val_split = "train"
    c.data.val_size = 500
    c.data.fields = ml_collections.ConfigDict({"question": "question", "solution": "solution",
                                               "answer": "answer"})
    c.data.normalize = "none"  # "none", "gsm8k" (#### -> \boxed{}), "boxed" (answer from \boxed{})
    c.data.limit = 0  # 0 = all records
    c.data.cache_dir = ""  # datasets cache ("" = its default)
    c.data.system_prompt = ""
    c.data.plain_template = "Question: {question}\nAnswer: "  # used when the tokenizer has no chat template
    c.data.chat_template = "auto"  # "auto", "always", "never"
    c.data.max_len = 128  # right truncation of prompt + response (counts are logged)
    c.data.seq_len = 0  # length of a batch row; 0 = max_len. Packing fits several documents per row.
    c.data.pack = True  # False = one document per row, padded
    c.data.shuffle_seed = 0
    c.data.toy_preset = "uniform"  # jaxpt.data.toy_task.PRESETS
    c.data.toy_seed = 0
    c.data.toy_noise = 0.3  # probability of the alternative separator (irreducible trajectory variety)
    c.data.toy_num_train = 0  # 0 = the preset's size
    c.data.toy_num_val = 0  # 0 = default (500)

    c.train = ml_collections.ConfigDict()
    c.train.total_steps = 1000
    c.train.batch_rows = 16  # rows of seq_len tokens per optimizer step (all micro-batches together)
    c.train.grad_accum = 1  # micro-batches per step; batch_rows must divide by it
    c.train.lr = 2e-3
    c.train.schedule = "cosine"  # or "constant" (after warm-up)
    c.train.warmup_steps = 50
    c.train.min_lr_ratio = 0.0
    c.train.b1 = 0.9
    c.train.b2 = 0.95
    c.train.eps = 1e-8
    c.train.weight_decay = 0.0
    c.train.clip_norm = 1.0
    c.train.loss_chunk = -1  # LM head + NLL over chunks of this many positions; -1 auto (train/loss_chunk.py), 0 off
    c.train.stop_at_step = 0  # >0: stop (and checkpoint) here without changing the schedule (preemption)

    c.eval = ml_collections.ConfigDict()
    c.eval.every = 100
    c.eval.at_start = True
    c.eval.batch_rows = 0  # 0 = rows of one micro-batch

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every = 500
    c.checkpoint.max_to_keep = 3
    c.checkpoint.resume = False
    c.checkpoint.export_best = True  # <workdir>/best_model (jaxpt model checkpoint)
    c.checkpoint.export_every_eval = False  # also <workdir>/models/step_<n> at each evaluation

    c.log = ml_collections.ConfigDict()
    c.log.every = 10
    c.log.tensorboard = True
    c.log.progress = True  # tqdm bar with loss and tokens/s
    c.log.print_evals = True  # one line per validation on stdout

    c.mesh = mesh_config()
    return c


def merge(base: ml_collections.ConfigDict, override) -> ml_collections.ConfigDict:
    """base updated with `override` (dict or ConfigDict, possibly partial and nested); unknown keys raise and
    values keep their default's type (jaxpt.utils.config_merge)."""
    return merge_config(base, override, "SFT", free_form=("overrides", "fields"), typed=True)
