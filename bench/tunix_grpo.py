"""google-tunix's GRPO learner on bench/rl_step.py's work, as a child process driven one step at a time.

Tunix 0.1.7 pins older transformers / tokenizers / safetensors than jaxpt, so it lives in its own environment:

    python -m venv .venv-tunix && .venv-tunix/bin/pip install -r requirements-bench-tunix.txt
    python -m bench.rl_step --tunix_python=.venv-tunix/bin/python

This file imports tunix, jax, numpy and transformers only (not jaxpt). Protocol on stdin / stdout: the parent
writes "go" for each step; the learner's data iterator hands out the next batch only then, and when the learner
asks for the following batch (the step is done) a JSON line {"step", "gen", "score", "update"} goes to stdout.
The mesh is made with AxisType.Auto (tunix's trainer fails on the Explicit default of newer jax).
"""
import json
import sys
import time


def main():
    tok_dir, vocab, hidden, layers, heads, kv_heads, ffn, prompt_len, new_tokens, group, lr = sys.argv[1:12]
    vocab, hidden, layers, heads, kv_heads, ffn = map(int, (vocab, hidden, layers, heads, kv_heads, ffn))
    prompt_len, new_tokens, group, lr = int(prompt_len), int(new_tokens), int(group), float(lr)
    prompts = json.loads(sys.stdin.readline())

    import jax
    import numpy as np
    import optax
    from flax import nnx
    from jax.sharding import AxisType
    from transformers import AutoTokenizer
    from tunix.generate import tokenizer_adapter
    from tunix.models.qwen2 import model as qwen2
    from tunix.rl import rl_cluster as rl_cluster_lib
    from tunix.rl.grpo import grpo_learner
    from tunix.rl.rollout import base_rollout

    encode = tokenizer_adapter.TokenizerAdapter.encode

    def encode_one(self, text, **kw):  # the learner hands the sampler one-element arrays, not strings
        return encode(self, text if isinstance(text, str) else str(np.asarray(text).reshape(-1)[0]), **kw)

    tokenizer_adapter.TokenizerAdapter.encode = encode_one
    times = {"gen": 0.0, "score": 0.0}

    def rule_reward(prompts, completions, **kw):  # bench/rl_step.py's rule_reward
        t0 = time.perf_counter()
        out = []
        for text in completions:
            ks = [int(w[1:]) for w in text.split() if w[1:].isdigit()]
            out.append(sum((k * 0.6180339887498949) % 1.0 for k in ks) / max(len(ks), 1))
        times["score"] += time.perf_counter() - t0
        return out

    cfg = qwen2.ModelConfig(num_layers=layers, vocab_size=vocab, embed_dim=hidden, hidden_dim=ffn, num_heads=heads,
                            head_dim=hidden // heads, num_kv_heads=kv_heads, rope_theta=1_000_000, norm_eps=1e-6,
                            use_tied_embedding=False)
    mesh = jax.make_mesh((1, 1), ("fsdp", "tp"), axis_types=(AxisType.Auto,) * 2)
    with mesh:
        actor = qwen2.Qwen2(cfg, rngs=nnx.Rngs(0))
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(lr, b1=0.9, b2=0.95, weight_decay=0.0))
    training = rl_cluster_lib.RLTrainingConfig(actor_optimizer=optimizer, eval_every_n_steps=10 ** 9,
                                               max_steps=10 ** 6)
    # No stop token: an id outside the vocabulary never ends a row, so every row generates the full length.
    rollout = base_rollout.RolloutConfig(max_tokens_to_generate=new_tokens, max_prompt_length=prompt_len,
                                         kv_cache_size=prompt_len + new_tokens + 8, temperature=1.0, top_p=1.0,
                                         top_k=None, eos_tokens=[vocab + 1000])
    roles = rl_cluster_lib.Role
    cluster = rl_cluster_lib.RLCluster(
        actor=actor, reference=None, tokenizer=AutoTokenizer.from_pretrained(tok_dir),
        cluster_config=rl_cluster_lib.ClusterConfig(
            role_to_mesh={roles.ACTOR: mesh, roles.REFERENCE: mesh, roles.ROLLOUT: mesh}, rollout_engine="vanilla",
            offload_to_cpu=False, training_config=training, rollout_config=rollout))
    generate = cluster.generate

    def timed_generate(*args, **kw):
        t0 = time.perf_counter()
        out = generate(*args, **kw)
        times["gen"] += time.perf_counter() - t0
        return out

    cluster.generate = timed_generate
    learner = grpo_learner.GRPOLearner(
        rl_cluster=cluster, reward_fns=[rule_reward],
        algo_config=grpo_learner.GRPOConfig(num_generations=group, num_iterations=1, beta=0.0, epsilon=0.2))

    def batches():
        started = None
        while True:
            if started is not None:
                # Tunix asks for the next batch once the step's update is dispatched: wait until it is done.
                jax.block_until_ready(nnx.state(cluster.actor_trainer.model))
                total = time.perf_counter() - started
                print(json.dumps({"step": total, "gen": times["gen"], "score": times["score"],
                                  "update": total - times["gen"] - times["score"]}), flush=True)
            if sys.stdin.readline().strip() != "go":
                return
            times.update(gen=0.0, score=0.0)
            started = time.perf_counter()
            yield {"prompts": np.array(prompts)}

    learner.train(batches())


if __name__ == "__main__":
    main()
