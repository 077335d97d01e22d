"""Accelerator checks on the Qwen2.5-0.5B preset with random weights (run where a GPU or TPU is available):

    python -m bench.gpu_checks [--only=forward,decode,rl] [--out=gpu_checks.json]

forward: bf16 forward (loss-like reduction of the logits) of B x T tokens: tokens/s and model FLOP/s.
decode:  `Model.generate` at batch 64 (bf16 weights and KV cache, temperature 1, EOS disabled so every row
         runs to the end): new tokens/s and ms per step, against the HBM-bandwidth bound. The bound counts
         the bytes one decode step must read: every weight once (the tied embedding as the LM head) plus the
         filled KV cache, averaged over the run; it is divided by the bandwidth measured here with a
         device-to-device copy (read + write bytes) and by the chip's data-sheet figure (--hbm_tb_s).
rl:      one DAPO step (8 prompts x 8 rollouts x 512 new tokens; float32 master weights, bf16 compute;
         the update in micro-batches of 16 rows with the LM head over 128-position chunks: the whole
         64-row batch's float32 logits, 64 x 512 x 151936, would not fit in 80 GB with their gradients) through
         `run_rl`, and the split between rollout, scoring (the verifier) and the update, read from the run's
         metrics.jsonl. With random weights no answer is correct, so dynamic sampling (which would discard
         every group) is off; everything else is the DAPO recipe (clip-higher, token-mean, overlong shaping).
"""
import json
import os
import tempfile
import time

from absl import app, flags

from jaxpt.utils import runtime

FLAGS = flags.FLAGS
flags.DEFINE_list("only", ["forward", "decode", "rl"], "which checks")
flags.DEFINE_string("preset", "qwen2.5-0.5b", "model preset")
flags.DEFINE_integer("fwd_batch", 8, "forward: rows")
flags.DEFINE_integer("fwd_len", 2048, "forward: tokens per row")
flags.DEFINE_integer("batch", 64, "decode: rows")
flags.DEFINE_integer("prompt_len", 128, "decode: prompt tokens")
flags.DEFINE_integer("new_tokens", 512, "decode: new tokens per row")
flags.DEFINE_float("temperature", 1.0, "decode: sampling temperature (0 = greedy)")
flags.DEFINE_integer("rl_prompts", 8, "rl: prompts per step")
flags.DEFINE_integer("rl_group", 8, "rl: rollouts per prompt")
flags.DEFINE_integer("rl_new_tokens", 512, "rl: max new tokens")
flags.DEFINE_integer("rl_micro_rows", 16, "rl: rows per micro-batch of the update (gradient accumulation)")
flags.DEFINE_integer("rl_loss_chunk", 128, "rl: LM head + logprobs over chunks of this many positions")
flags.DEFINE_integer("rl_steps", 3, "rl: steps run (the first compiles; the later ones are reported)")
flags.DEFINE_float("hbm_tb_s", 3.35, "data-sheet HBM bandwidth in TB/s (H100 SXM 3.35, H200 4.8)")
flags.DEFINE_string("out", "", "write the results as JSON here")


def _timed(fn, repeats=3):
    fn()  # compile
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def copy_bandwidth():
    """Device-to-device copy of 2 GiB: (read + write bytes) / s, the practical HBM ceiling."""
    import jax
    import jax.numpy as jnp

    x = jnp.ones((512, 1024, 1024), jnp.float32)
    f = jax.jit(lambda a: a * 1.0001)
    s = _timed(lambda: f(x).block_until_ready(), 5)
    return 2 * x.nbytes / s


def check_forward(model, cfg):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxpt.models import decoder

    b, t = FLAGS.fwd_batch, FLAGS.fwd_len
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, cfg.vocab_size, (b, t)), jnp.int32)
    positions = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32), (b, t))

    @jax.jit
    def fwd(params, tokens):
        logits = decoder.forward(params, cfg, tokens, positions)[0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=-1))

    s = _timed(lambda: fwd(model.params, tokens).block_until_ready())
    n = model.num_params
    flops = 2 * n * b * t + 2 * 2 * cfg.num_layers * b * t * t * cfg.num_heads * cfg.head_dim / 2  # causal
    return {"forward_batch": b, "forward_len": t, "forward_s": s, "forward_tokens_per_s": b * t / s,
            "forward_tflops": flops / s / 1e12, "forward_value_finite": bool(np.isfinite(float(fwd(model.params,
                                                                                                     tokens))))}


def check_decode(model, cfg, bandwidth):
    import jax
    import numpy as np

    b, p, new = FLAGS.batch, FLAGS.prompt_len, FLAGS.new_tokens
    prompts = np.random.default_rng(0).integers(0, cfg.vocab_size, (b, p)).tolist()

    def run():
        out = model.generate(prompts, new, temperature=FLAGS.temperature, eos_ids=(), seed=0)
        assert int(out.lengths.min()) == new

    s = _timed(run)
    weight_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(model.params))
    kv_per_token = 2 * cfg.num_layers * cfg.num_kv_heads * cfg.head_dim * 2  # k and v, bf16
    mean_ctx = p + new / 2
    step_bytes = weight_bytes + b * mean_ctx * kv_per_token
    bound_sheet = step_bytes / (FLAGS.hbm_tb_s * 1e12)
    bound_meas = step_bytes / bandwidth
    step = s / new
    return {"decode_temperature": FLAGS.temperature, "decode_batch": b, "decode_prompt": p, "decode_new": new, "decode_s": s,
            "decode_tokens_per_s": b * new / s, "decode_ms_per_step": 1e3 * step,
            "decode_bytes_per_step_gb": step_bytes / 1e9,
            "decode_bound_ms_per_step_datasheet": 1e3 * bound_sheet,
            "decode_bound_ms_per_step_measured_bw": 1e3 * bound_meas,
            "decode_bound_tokens_per_s_measured_bw": b / bound_meas,
            "decode_fraction_of_bound_measured_bw": bound_meas / step,
            "decode_fraction_of_bound_datasheet": bound_sheet / step}


def check_rl(cfg):
    import jaxpt
    from jaxpt.data.tasks import toy as toy_task
    from jaxpt.rl import run_rl

    model = jaxpt.Model.from_config(cfg.replace(param_dtype="float32", dtype="bfloat16"), seed=0)
    recs = toy_task.make_splits("uniform", seed=0)["rl_prompts"][:64]
    with tempfile.TemporaryDirectory() as tmp:
        conf = {"workdir": tmp, "tokenizer": "qwen2.5", "mesh": {"data": 1},
                "model": {"param_dtype": "float32", "dtype": "bfloat16"},
                "rl": {"algorithm": "dapo", "dynamic_sampling": False, "total_steps": FLAGS.rl_steps,
                       "gen_prompts": FLAGS.rl_prompts, "group_size": FLAGS.rl_group,
                       "max_new_tokens": FLAGS.rl_new_tokens, "micro_batch_rows": FLAGS.rl_micro_rows,
                       "loss_chunk": FLAGS.rl_loss_chunk, "eval_every": 0, "eval_at_start": False,
                       "eval_at_end": False, "checkpoint_every": 0, "export_final": False},
                "optim": {"lr": 1e-6}, "log": {"tensorboard": False, "progress": False}}
        t0 = time.perf_counter()
        run_rl(conf, init=model, prompts=recs)
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in open(os.path.join(tmp, "metrics.jsonl"))]
    steps = [r for r in rows if "perf/step_s" in r]
    last = steps[1:] or steps
    mean = lambda k: sum(r[k] for r in last) / len(last)  # noqa: E731
    out = {"rl_steps_reported": len(last), "rl_wall_s_all_steps_incl_compile": wall,
           "rl_first_step_s": steps[0]["perf/step_s"]}
    for k in ("perf/step_s", "perf/gen_s", "perf/score_s", "perf/score_wait_s", "perf/update_s",
              "perf/gen_tokens_per_s", "rollout/response_len_mean", "rollout/truncation_rate"):
        out["rl_" + k.split("/")[1]] = mean(k)
    return out


def main(_):
    runtime.enable_compile_cache()
    import jax

    import jaxpt
    from jaxpt.models.config import get_config

    dev = jax.devices()[0]
    res = {"device": getattr(dev, "device_kind", dev.platform), "jax": jax.__version__}
    print(res, flush=True)
    cfg = get_config(FLAGS.preset, param_dtype="bfloat16", dtype="bfloat16")
    if "forward" in FLAGS.only or "decode" in FLAGS.only:
        model = jaxpt.Model.from_config(cfg, seed=0)
        res["params"] = model.num_params
        res["copy_bandwidth_tb_s"] = copy_bandwidth() / 1e12
        if "forward" in FLAGS.only:
            res.update(check_forward(model, cfg))
            print(json.dumps(res), flush=True)
        if "decode" in FLAGS.only:
            res.update(check_decode(model, cfg, res["copy_bandwidth_tb_s"] * 1e12))
            print(json.dumps(res), flush=True)
        del model
    if "rl" in FLAGS.only:
        res.update(check_rl(cfg))
    print(json.dumps(res, indent=1))
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    app.run(main)
