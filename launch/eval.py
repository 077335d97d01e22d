"""Evaluate a checkpoint on the math benchmarks.

    python -m launch.eval --checkpoint=<HF dir or jaxpt checkpoint> \
        --benchmarks=gsm8k,math500,aime24,amc23,minerva_math,olympiadbench [--limit=N] [--k=K] \
        [--temperature=0.7] [--max_new_tokens=1024] [--strict] [--out=dir]

Grading is lenient by default (a box, else a final-answer marker, else the last math or number); --strict
counts boxed answers only, as the RL reward does. Outputs cut off at --max_new_tokens score only through an
explicit final answer either way. results.json records the mode under "grading".

Writes <out>/results.json, <out>/results.md and <out>/outputs/<benchmark>.jsonl, and prints the table.
"""
import pathlib
import time

from absl import app, flags, logging

from jaxpt.utils import runtime

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Hugging Face model directory or jaxpt checkpoint directory")
flags.DEFINE_list("benchmarks", "gsm8k,math500,aime24,amc23,minerva_math,olympiadbench", "benchmarks to run")
flags.DEFINE_integer("limit", None, "first N problems of each benchmark (all when unset)")
flags.DEFINE_integer("k", 1, "samples per problem (pass@1 = mean over them; pass@k, maj@k)")
flags.DEFINE_float("temperature", 0.0, "0 = greedy")
flags.DEFINE_float("top_p", 1.0, "nucleus sampling mass")
flags.DEFINE_integer("top_k", 0, "top-k filter (0 = off)")
flags.DEFINE_integer("max_new_tokens", 1024, "generation budget per sample")
flags.DEFINE_integer("batch_size", 64, "sequences per sampler call")
flags.DEFINE_integer("seed", 0, "sampling seed")
flags.DEFINE_string("out", None, "output directory (default: eval_results/<checkpoint name>-<time>)")
flags.DEFINE_string("tokenizer", None, "tokenizer directory or name (default: the checkpoint's)")
flags.DEFINE_string("template", None, "prompt template with {question} (default: step by step + \\boxed{})")
flags.DEFINE_enum("chat_template", "auto", ["auto", "always", "never"], "use the tokenizer's chat template")
flags.DEFINE_string("dtype", None, "parameter/compute dtype override (e.g. float32, bfloat16)")
flags.DEFINE_integer("mesh_data", None, "data-parallel mesh size (default: no mesh)")
flags.DEFINE_integer("mesh_fsdp", 1, "fsdp mesh size")
flags.DEFINE_integer("mesh_tensor", 1, "tensor mesh size")
flags.DEFINE_string("bench_dir", None, "directory holding <benchmark>/test.jsonl (default: shared data)")
flags.DEFINE_bool("progress", True, "tqdm progress bar")
flags.DEFINE_bool("strict", False, "grade boxed answers only (the RL reward's rule); default: lenient")


def main(argv):
    del argv
    runtime.enable_compile_cache()
    from jaxpt.data.tokenizer import load_tokenizer
    from jaxpt.eval import evaluate_benchmarks, make_prompt_fn, markdown_table, write_results
    from jaxpt.eval.prompts import DEFAULT_TEMPLATE
    from jaxpt.models.checkpoint import load_model

    if not FLAGS.checkpoint:
        raise app.UsageError("--checkpoint is required")
    mesh = None
    if FLAGS.mesh_data is not None:
        from jaxpt.parallel.mesh import make_mesh

        mesh = make_mesh(FLAGS.mesh_data, FLAGS.mesh_fsdp, FLAGS.mesh_tensor)
    model = load_model(FLAGS.checkpoint, dtype=FLAGS.dtype, mesh=mesh)
    tok_spec = FLAGS.tokenizer or model.tokenizer_dir
    if tok_spec is None:
        raise app.UsageError("the checkpoint has no tokenizer files: pass --tokenizer")
    tokenizer = load_tokenizer(tok_spec)
    prompt_fn = make_prompt_fn(tokenizer, FLAGS.template or DEFAULT_TEMPLATE, chat_template=FLAGS.chat_template)
    out = pathlib.Path(FLAGS.out or f"eval_results/{pathlib.Path(FLAGS.checkpoint).name}-"
                                    f"{time.strftime('%Y%m%d-%H%M%S')}")
    from jaxpt.rewards.grading import EVAL_GRADING, Grading

    grading = (Grading.STRICT if FLAGS.strict else EVAL_GRADING).value
    logging.info("evaluating %s (%.1fM params) on %s -> %s (%s grading)", FLAGS.checkpoint, model.num_params / 1e6,
                 ",".join(FLAGS.benchmarks), out, grading)
    results, overall = evaluate_benchmarks(
        model, tokenizer, FLAGS.benchmarks, limit=FLAGS.limit, k=FLAGS.k, temperature=FLAGS.temperature,
        max_new_tokens=FLAGS.max_new_tokens, batch_size=FLAGS.batch_size, prompt_fn=prompt_fn, top_p=FLAGS.top_p,
        top_k=FLAGS.top_k, seed=FLAGS.seed, root=FLAGS.bench_dir, progress=FLAGS.progress, grading=grading)
    write_results(out, results, overall, extra={"checkpoint": str(FLAGS.checkpoint), "grading": grading})
    print(markdown_table({n: r.metrics for n, r in results.items()}, overall))
    print(f"grading: {grading}; wrote {out}/results.json, results.md, outputs/*.jsonl")


if __name__ == "__main__":
    app.run(main)
