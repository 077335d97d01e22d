"""Sampling throughput: jaxpt's in-graph sampler vs transformers `generate` (torch), same weights and settings.

    python -m bench.sampler [--batch=16] [--prompt_len=64] [--new_tokens=256] [--temperature=1.0] [--repeats=3]

Prints new tokens/s and per-step latency for both (median of `repeats` timed calls after a warm-up call that
compiles) and the ratio. The timed calls alternate between the two (jaxpt, transformers, jaxpt, ...) so a
busy shared machine slows both alike; the ratio of medians is the number to read.

The model is a random 32M-parameter Qwen2-style config (vocab 8192, hidden 512, 8 layers, 8/4 heads,
FFN 1408, fp32): big enough that matmuls matter, small enough for two CPU cores.
EOS is disabled on both sides (eos_ids=() / eos_token_id=None) so every row produces every token.
"""
import os
import statistics
import tempfile
import time

from absl import app, flags

from jaxpt.utils import runtime

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch", 16, "prompts per call")
flags.DEFINE_integer("prompt_len", 64, "prompt tokens (all prompts the same length)")
flags.DEFINE_integer("new_tokens", 256, "tokens generated per row")
flags.DEFINE_float("temperature", 1.0, "0 = greedy")
flags.DEFINE_integer("repeats", 3, "timed calls per side (median reported)")
flags.DEFINE_integer("seed", 0, "weights and prompt seed")
flags.DEFINE_integer("torch_threads", 0, "torch intra-op threads (0 = torch's default, one per core)")

BENCH_CONFIG = dict(family="qwen2", vocab_size=8192, hidden_size=512, intermediate_size=1408, num_layers=8,
                    num_heads=8, num_kv_heads=4, tie_embeddings=False, eos_token_ids=(1,), bos_token_id=None,
                    max_position_embeddings=4096, param_dtype="float32", dtype="float32")


def main(_):
    runtime.enable_compile_cache()
    import jax
    import numpy as np
    import torch
    import transformers

    import jaxpt
    from jaxpt.models.config import ModelConfig

    if FLAGS.torch_threads:
        torch.set_num_threads(FLAGS.torch_threads)
    cfg = ModelConfig(**BENCH_CONFIG)
    model = jaxpt.Model.from_config(cfg, seed=FLAGS.seed)
    rng = np.random.default_rng(FLAGS.seed)
    prompts = rng.integers(2, cfg.vocab_size, (FLAGS.batch, FLAGS.prompt_len)).tolist()
    b, new, temp = FLAGS.batch, FLAGS.new_tokens, FLAGS.temperature
    print(f"model: {model.num_params / 1e6:.1f}M params, batch {b}, prompt {FLAGS.prompt_len}, "
          f"{new} new tokens, temperature {temp}, top_p 1.0, top_k 0, fp32; "
          f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    def run_jax():
        out = model.generate(prompts, new, temperature=temp, eos_ids=(), seed=0)
        assert int(out.lengths.min()) == new

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        hf = transformers.AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).eval()
    ids = torch.tensor(prompts)
    attn = torch.ones_like(ids)

    def run_hf():
        with torch.inference_mode():
            out = hf.generate(input_ids=ids, attention_mask=attn, max_new_tokens=new, min_new_tokens=new,
                              do_sample=temp > 0, temperature=temp if temp > 0 else None, top_p=1.0,
                              top_k=0, eos_token_id=None, pad_token_id=0)
        assert out.shape[1] == FLAGS.prompt_len + new

    fns = {"jaxpt": run_jax, "transformers": run_hf}
    for fn in fns.values():
        fn()  # warm-up: compiles on the JAX side
    times = {name: [] for name in fns}
    cpu = {name: [] for name in fns}  # process CPU time: shows time lost to a busy machine (or spinning)
    for _ in range(FLAGS.repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {name: statistics.median(t) for name, t in times.items()}
    for name in fns:
        print(f"{name:>13}: {b * new / med[name]:8.1f} new tokens/s, {1000 * med[name] / new:6.2f} ms per step "
              f"(median of {[round(t, 2) for t in times[name]]} s; CPU {statistics.median(cpu[name]):.1f} s)")
    print(f"ratio jaxpt / transformers: {med['transformers'] / med['jaxpt']:.2f}x "
          f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    app.run(main)
