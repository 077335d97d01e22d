"""The sections every stage shares: model, tokenizer, prompt, mesh, data, optim, checkpoint, guard, log, eval.

Each factory owns its defaults. SFT, RL and the pipeline embed all of them and add only their own section
(jaxpt/config/stages.py), so a key has one name and one default wherever it appears.
"""
import ml_collections

from jaxpt.config.schema import section

DEFAULT_FIELDS = {"question": "question", "solution": "solution", "answer": "answer"}
STEP_BY_STEP = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."


def model_section() -> ml_collections.ConfigDict:
    return section("model", [
        ("init_from", "tiny-qwen", "initial model: a Hugging Face directory, a jaxpt checkpoint, or a preset "
                                   "name (random init; jaxpt.models.config.PRESETS)"),
        ("overrides", {}, "ModelConfig fields changed on a preset (random init only)"),
        ("vocab_multiple", 8, "random init: vocab_size = tokenizer size rounded up to this"),
        ("param_dtype", "float32", "dtype of the stored parameters (and optimizer moments)"),
        ("dtype", "float32", "compute dtype: float32, or bfloat16 on accelerators"),
        ("remat", "none", "activation rematerialisation: none, full or dots"),
        ("attention_impl", "", "'' = the model's; einsum, dot_product (fused kernels on GPU) or chunked (query "
                                 "blocks: long sequences in bounded memory)"),
        ("scan_layers", False, "stack layers under lax.scan (faster compiles for big models)"),
    ])


def prompt_section() -> ml_collections.ConfigDict:
    return section("prompt", [
        ("template", STEP_BY_STEP, "the user turn built from a question ({question}); SFT, RL and evaluation "
                                   "all use it"),
        ("system_prompt", "", "system message ('' = the chat template's default)"),
        ("chat_template", "auto", "auto (the tokenizer's when it has one), always or never"),
        ("plain_template", "Question: {question}\nAnswer: ", "the prompt when no chat template is used "
                                                             "({question} = the user turn)"),
    ])


def mesh_section() -> ml_collections.ConfigDict:
    return section("mesh", [
        ("data", -1, "data-parallel axis size (-1 = the devices the other axes leave)"),
        ("fsdp", 1, "fully-sharded axis size (parameters and optimizer state sharded)"),
        ("tensor", 1, "tensor-parallel axis size"),
        ("rules", "default", "logical-axis rules table (jaxpt.parallel.rules.RULE_SETS)"),
    ])


def data_section() -> ml_collections.ConfigDict:
    sft = section("data.sft", [
        ("source", "toy", "expert trajectories: 'toy' (the embedded task) or a .jsonl/.json/.parquet file "
                          "(or a hub data set when online)"),
        ("split", "train", "split of a hub data set"),
        ("fields", dict(DEFAULT_FIELDS), "source column of question, solution and answer"),
        ("normalize", "none", "source conventions: none, gsm8k (#### -> \\boxed{}), boxed (answer from "
                              "\\boxed{})"),
        ("limit", 0, "first N records (0 = all)"),
        ("max_len", 512, "prompt + response tokens kept per example (longer ones are cut, and counted)"),
        ("seq_len", 0, "tokens per batch row (0 = max_len); packing fits several examples in a row"),
        ("pack", True, "pack examples into rows (False = one example per padded row)"),
        ("shuffle_seed", 0, "order of the training examples"),
    ])
    val = section("data.val", [
        ("source", "", "validation trajectories: '' = hold out `size` records of data.sft (toy: its "
                       "validation split), or a file"),
        ("split", "train", "split of a hub data set"),
        ("size", 500, "records held out of data.sft when source is ''"),
    ])
    rl = section("data.rl", [
        ("source", "", "RL prompts with answers: '' = the questions of data.sft (toy: its RL prompt pool), "
                       "or a file"),
        ("split", "train", "split of a hub data set"),
        ("fields", dict(DEFAULT_FIELDS), "source column of question and answer (solution optional)"),
        ("normalize", "none", "as data.sft.normalize"),
        ("limit", 0, "first N prompts (0 = all)"),
        ("max_prompt_len", 0, "prompts are left padded to this (0 = bucket of the longest); longer ones "
                              "are dropped and counted"),
        ("shuffle_seed", 0, "order of the prompts"),
    ])
    expert = section("data.expert", [
        ("source", "", "expert trajectories mixed into RL (LUFFY, SRFT, UPT): '' = data.sft, or a file "
                       "(fields as data.sft)"),
        ("split", "train", "split of a hub data set"),
    ])
    toy = section("data.toy", [
        ("preset", "uniform", "embedded task variant: s1k, easy, uniform, hard, general, tiny"),
        ("seed", 0, "problem generation seed"),
        ("noise", 0.3, "share of trajectories written with the other step separator (style variety)"),
        ("num_train", 0, "training trajectories (0 = the preset's size)"),
        ("num_val", 0, "validation trajectories (0 = 500)"),
    ])
    return section("data", [
        ("sft", sft, "SFT trajectories"), ("val", val, "SFT validation trajectories"),
        ("rl", rl, "RL prompts"), ("expert", expert, "expert trajectories for synchronized SFT+RL"),
        ("toy", toy, "the embedded arithmetic task (any source 'toy')"),
        ("cache_dir", "", "datasets cache ('' = its default)"),
    ])


def optim_section() -> ml_collections.ConfigDict:
    return section("optim", [
        ("lr", 1e-5, "peak learning rate (AdamW)"),
        ("schedule", "constant", "after warm-up: constant or cosine"),
        ("warmup_steps", 0, "linear warm-up (optimizer updates)"),
        ("min_lr_ratio", 0.0, "cosine floor as a fraction of lr"),
        ("b1", 0.9, "Adam beta1"),
        ("b2", 0.999, "Adam beta2"),
        ("eps", 1e-8, "Adam epsilon"),
        ("weight_decay", 0.0, "decoupled weight decay"),
        ("clip_norm", 1.0, "global gradient-norm clip (0 = off)"),
    ])


def checkpoint_section() -> ml_collections.ConfigDict:
    return section("checkpoint", [
        ("max_to_keep", 2, "train-state checkpoints kept per stage (0 = all)"),
        ("resume", False, "continue from the latest checkpoint in the work directory"),
    ])


def guard_section() -> ml_collections.ConfigDict:
    return section("guard", [
        ("nonfinite_policy", "stop", "a non-finite loss or gradient norm: stop (exit naming the step and the "
                                     "metric, nothing non-finite saved) or skip (drop that update, count it)"),
        ("max_consecutive_skips", 10, "skip: this many non-finite updates in a row stop the run anyway"),
        ("flat_steps", 20, "warn when the loss is flat and the gradient norm exactly 0 for this many steps "
                           "(0 = never)"),
    ])


def log_section() -> ml_collections.ConfigDict:
    return section("log", [
        ("every", 10, "training metrics window in steps (0 = only at evaluations)"),
        ("tensorboard", True, "also write TensorBoard events (metrics.jsonl is always written)"),
        ("progress", True, "progress bars"),
        ("print_evals", True, "one line per evaluation on stdout"),
        ("samples", 2, "RL: decoded responses per step written to samples.jsonl (0 = none)"),
    ])


def eval_section() -> ml_collections.ConfigDict:
    return section("eval", [
        ("benchmarks", "", "comma-separated benchmarks: gsm8k, math500, aime24, amc23, minerva_math, "
                           "olympiadbench"),
        ("source", "", "held-out problems with answers: a (question, answer) file, or 'toy' (the embedded "
                       "task's test split)"),
        ("fields", {"question": "question", "answer": "answer"}, "source column of question and answer"),
        ("limit", 0, "first N problems of each benchmark and of the source (0 = all)"),
        ("max_new_tokens", 1024, "generation budget per answer"),
        ("temperature", 0.0, "0 = greedy"),
        ("top_p", 1.0, "nucleus sampling mass"),
        ("n", 1, "samples per problem (score = mean over them, avg@n)"),
        ("batch_size", 64, "sequences per sampler call"),
        ("seed", 0, "sampling seed"),
        ("grading", "lenient", "lenient (a box, else a final-answer marker, else the last math) or strict "
                               "(boxes only); a cut-off output needs an explicit final answer either way"),
    ])
