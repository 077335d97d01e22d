"""One GRPO step of jaxpt's RL learner against TRL's GRPOTrainer, same config and same work on both sides.

    pip install -r requirements-bench.txt        # TRL (pinned with the torch of requirements-test.txt)
    python -m bench.rl_step                      # 32M-parameter Qwen2-style model (bench/sft_step.py's), fp32
    python -m bench.rl_step --rounds=5 --skip_trl

The work of a step, on both sides: 8 prompts x 8 samples, prompts of 64 tokens, 128 new tokens at temperature 1
with the end-of-sequence token suppressed (every row generates the full length), a trivial rule reward (a
continuous function of the decoded response's token ids: no row has advantage 0, so none is left out),
group-normalised advantages, GRPO's seq-mean-token-mean loss with clipping, the policy entropy computed (TRL
logs it, so does jaxpt), no KL, one AdamW update with global-norm clipping at 1.0. Random weights, float32.
jaxpt runs with rl.gen_streams=2 (the round's two halves sampled from two threads; --gen_streams=1: one call).

Timing alternates steps (jaxpt, TRL, jaxpt, TRL, ...) in one process, so that load from other processes hits
both alike; the first step of each side (jaxpt's compiles, torch's warm-up) is reported apart; medians over the
timed steps. Per side: generation (sampler / model.generate), scoring (decode + reward), update (batch assembly,
forward, backward, optimizer). The last line printed is `jaxpt/TRL ratio: <TRL step time / jaxpt step time>`
(above 1: jaxpt is faster).
"""
import argparse
import dataclasses
import os
import statistics
import tempfile
import time

from bench.sft_step import add_model_args
from jaxpt.utils import runtime


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)  # bench/sft_step.py's 32M config
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--prompt_len", type=int, default=64)
    p.add_argument("--new_tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3, help="timed steps per side")
    p.add_argument("--lr", type=float, default=1e-6)
    p.add_argument("--gen_streams", type=int, default=2, help="jaxpt's rl.gen_streams: sampler calls at once "
                   "(2 keeps both CPU cores busy during decode)")
    p.add_argument("--skip_trl", action="store_true")
    p.add_argument("--skip_jax", action="store_true")
    p.add_argument("--tunix_python", default="", help="python of an environment with requirements-bench-tunix.txt: "
                   "adds google-tunix's GRPO learner (bench/tunix_grpo.py, a child process)")
    return p.parse_args()


# ----------------------------------------------------------------------------------------------- shared
def make_tokenizer(vocab: int, out_dir: str):
    """A word-level tokenizer of `vocab` words: <pad> 0, <eos> 1, <unk> 2, then t3 .. t{vocab-1}; a text of n
    words is n tokens (no special tokens added), so prompts have exactly the intended length on both sides."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{f"t{i}": i for i in range(3, vocab)}}
    tk = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    tok.save_pretrained(out_dir)
    return tok


def make_prompts(a, n: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return [" ".join(f"t{i}" for i in rng.integers(3, a.vocab, a.prompt_len)) for _ in range(n)]


def rule_reward(text: str) -> float:
    """The rule reward: the mean over words tK of frac(0.618... K), a number in [0, 1) that no two responses share
    in practice, so no response has exactly its group's mean reward (advantage 0: jaxpt would leave it out)."""
    ks = [int(w[1:]) for w in text.split() if w[1:].isdigit()]
    return sum((k * 0.6180339887498949) % 1.0 for k in ks) / max(len(ks), 1)


def model_config(a):
    from jaxpt.models.config import get_config

    return get_config("qwen2.5-0.5b", vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
                      num_layers=a.layers, num_heads=a.heads, num_kv_heads=a.kv_heads, tie_embeddings=False,
                      attention_impl="einsum", remat="none", bos_token_id=None, eos_token_ids=(1,))


# ----------------------------------------------------------------------------------------------- jaxpt
class JaxSide:
    def __init__(self, a, cfg, tok_dir, prompts, workdir):
        import concurrent.futures

        import jax
        import numpy as np

        from jaxpt.data.prompts import PromptIterator
        from jaxpt.models.model import Model
        from jaxpt.rl.learner import Learner
        from jaxpt.train.state import make_init_fn

        def verdict(texts, golds):  # the learner's reward_fn contract is a verdict; the reward is set below
            return np.asarray([rule_reward(t) > 0.5 for t in texts]), {}

        config = {"workdir": workdir, "tokenizer": tok_dir, "mesh": {"data": 1},
                  "prompt": {"template": "{question}", "plain_template": "{question}"},
                  "data": {"rl": {"max_prompt_len": a.prompt_len}},
                  "rl": {"algorithm": "grpo", "total_steps": 1000, "gen_prompts": a.prompts, "group_size": a.group,
                         "gen_streams": a.gen_streams,
                         "max_new_tokens": a.new_tokens, "temperature": 1.0, "eval_every": 0, "checkpoint_every": 0,
                         "export_final": False, "num_minibatches": 1, "compute_entropy": True},
                  "optim": {"lr": a.lr, "schedule": "constant", "warmup_steps": 0, "clip_norm": 1.0},
                  "log": {"progress": False, "tensorboard": False, "samples": 0}}
        records = [{"question": p, "answer": "0"} for p in prompts]
        self.learner = Learner(config, Model.from_config(cfg, seed=0), prompts=records, reward_fn=verdict)
        s = self.learner.s
        rollout, score = self.learner.rollout, self.learner.rollout.score

        def score_with_share(rnd):  # the learner's scoring (decode, verdict, shaping), then the share as reward
            out = score(rnd)
            rnd.reward = np.asarray([rule_reward(t) for t in rnd.texts], np.float32)
            return out

        rollout.score = score_with_share
        # Every row generates the full length: no stop token.
        self.learner.rollout.settings = dataclasses.replace(s.settings, eos_ids=())
        self.state = make_init_fn(s.tx, s.state_sh)(s.init_params)
        self.it = PromptIterator(len(records), seed=0)
        self.pool = concurrent.futures.ThreadPoolExecutor(1)
        self.num_params = sum(int(x.size) for x in jax.tree.leaves(self.state["params"]))
        self.step_i = 0

    def step(self):
        from jaxpt.rl.batch import assemble

        s = self.learner.s
        t0 = time.perf_counter()
        col = self.learner.rollout.collect(self.state["params"], self.step_i, self.it, self.pool)
        t1 = time.perf_counter()
        batch, _ = assemble(s.spec, col["rounds"], col["kept"], s.prompts.expert_ids)
        self.state, ms, plan, _ = self.learner.update(self.state, batch, self.step_i)  # fetches its metrics
        t2 = time.perf_counter()
        self.step_i += 1
        assert plan.stats["rows"] == len(batch["adv"]), "a row was left out: the reward must split every group"
        assert int(col["rounds"][0].lengths.min()) == s.N, "every row must generate the full length"
        self.loss = float(ms[-1]["loss"])
        return {"step": t2 - t0, "gen": col["gen_s"], "score": col["score_s"], "update": t2 - t1}


# ----------------------------------------------------------------------------------------------- TRL
class TrlSide:
    def __init__(self, a, cfg, tok, prompts, workdir):
        import torch
        import transformers
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        from jaxpt.models.hf_config import config_to_hf

        torch.set_num_threads(os.cpu_count() or 1)
        torch.manual_seed(0)
        self.torch = torch
        hf_cfg = transformers.AutoConfig.for_model(**config_to_hf(cfg))
        model = transformers.AutoModelForCausalLM.from_config(hf_cfg, dtype=torch.float32)
        self.num_params = sum(p.numel() for p in model.parameters())

        def reward(completions, **kw):
            return [rule_reward(c) for c in completions]

        rows = a.prompts * a.group
        args = GRPOConfig(output_dir=workdir, per_device_train_batch_size=rows, num_generations=a.group,
                          generation_batch_size=rows, max_completion_length=a.new_tokens, temperature=1.0,
                          top_p=1.0, top_k=0, beta=0.0, epsilon=0.2, loss_type="grpo", scale_rewards="group",
                          learning_rate=a.lr, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0,
                          weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.95, use_cpu=True, bf16=False,
                          report_to="none", logging_steps=1, disable_dropout=True, save_strategy="no",
                          generation_kwargs={"suppress_tokens": [tok.eos_token_id]}, seed=0)
        self.trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args,
                                   train_dataset=Dataset.from_dict({"prompt": prompts}), processing_class=tok)
        self.trainer.create_optimizer_and_scheduler(num_training_steps=1000)
        self.trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train()'s loop, which is not used
        self.trainer.model.train()
        self.batch = [{"prompt": p} for p in prompts[:a.prompts] for _ in range(a.group)]
        self.times = {}
        for name, key in (("_generate", "gen"), ("_calculate_rewards", "score"), ("_generate_and_score_completions",
                                                                                   "rollout")):
            self._time(name, key)

    def _time(self, name, key):
        inner = getattr(self.trainer, name)

        def timed(*args, **kw):
            t0 = time.perf_counter()
            out = inner(*args, **kw)
            self.times[key] = self.times.get(key, 0.0) + time.perf_counter() - t0
            if name == "_generate_and_score_completions":
                self.inputs = out
            return out

        setattr(self.trainer, name, timed)

    def step(self):
        tr, model = self.trainer, self.trainer.model
        self.times = {}
        t0 = time.perf_counter()
        # As the Trainer's loop calls it: the step generates (its _prepare_inputs: generate, decode, reward,
        # advantages), then forward (logprobs + entropy), loss and backward.
        loss = tr.training_step(model, self.batch, None)
        self.torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        tr.optimizer.step()
        tr.lr_scheduler.step()
        model.zero_grad(set_to_none=True)
        total = time.perf_counter() - t0
        done = self.inputs["completion_mask"].sum(1)
        assert int(done.min()) == self.inputs["completion_ids"].shape[1], "every row must generate the full length"
        self.loss = float(loss)
        return {"step": total, "gen": self.times["gen"], "score": self.times["score"],
                "update": total - self.times["gen"] - self.times["score"]}


# ----------------------------------------------------------------------------------------------- Tunix
class TunixSide:
    """bench/tunix_grpo.py in its own environment, one step per "go" (so the steps still alternate)."""

    def __init__(self, a, tok_dir, prompts, workdir):
        import json
        import subprocess

        os.makedirs(workdir, exist_ok=True)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        args = [tok_dir] + [str(x) for x in (a.vocab, a.hidden, a.layers, a.heads, a.kv_heads, a.ffn, a.prompt_len,
                                              a.new_tokens, a.group, a.lr)]
        self.log = open(os.path.join(workdir, "tunix.log"), "w")
        self.proc = subprocess.Popen([a.tunix_python, "-m", "bench.tunix_grpo"] + args, cwd=root, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.proc.stdin.write(json.dumps(prompts) + "\n")
        self.json, self.loss, self.num_params = json, float("nan"), None

    def step(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the tunix child stopped: see {self.log.name}")
        return self.json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.terminate()


def main():
    a = parse()
    runtime.enable_compile_cache()
    from jaxpt.analysis.flops import forward_flops_per_token

    cfg = model_config(a)
    work = tempfile.mkdtemp(prefix="bench_rl_")
    tok_dir = os.path.join(work, "tokenizer")
    tok = make_tokenizer(a.vocab, tok_dir)
    prompts = make_prompts(a, a.prompts)
    sides = {}
    if not a.skip_jax:
        sides["jaxpt"] = JaxSide(a, cfg, tok_dir, prompts, os.path.join(work, "jax"))
    if not a.skip_trl:
        sides["TRL"] = TrlSide(a, cfg, tok, prompts, os.path.join(work, "trl"))
    if a.tunix_python:
        sides["Tunix"] = TunixSide(a, tok_dir, prompts, os.path.join(work, "tunix"))
    first, runs = {}, {name: [] for name in sides}
    for r in range(a.rounds + 1):
        for name, s in list(sides.items()):
            try:
                t = s.step()
            except RuntimeError as e:  # the Tunix child: report the others
                print(f"{name} dropped: {e}")
                del sides[name], runs[name]
                continue
            if r == 0:
                first[name] = t
            else:
                runs[name].append(t)
    rows, seq = a.prompts * a.group, a.prompt_len + a.new_tokens
    update_flops = 3 * rows * seq * forward_flops_per_token(cfg, seq)
    for side in sides.values():
        if hasattr(side, "close"):
            side.close()
    n_params = next(s.num_params for s in sides.values() if s.num_params)
    print(f"config: vocab {a.vocab}, hidden {a.hidden}, layers {a.layers}, heads {a.heads}/{a.kv_heads}, ffn {a.ffn}, "
          f"{n_params / 1e6:.1f}M params, fp32; {a.prompts} prompts x {a.group} samples, prompt {a.prompt_len} + "
          f"{a.new_tokens} new tokens; update {update_flops / 1e12:.2f} TFLOP (forward + backward, paper formula); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    med = {}
    for name, rs in runs.items():
        med[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        m = med[name]
        print(f"{name:>6}: step {m['step']:.2f} s (median of {len(rs)}; min {min(r['step'] for r in rs):.2f}, max "
              f"{max(r['step'] for r in rs):.2f}) = generation {m['gen']:.2f} + scoring {m['score']:.3f} + update "
              f"{m['update']:.2f} s ({update_flops / m['update'] / 1e9:.0f} GFLOP/s); first step "
              f"{first[name]['step']:.1f} s; loss {sides[name].loss:.4f}")
    if "jaxpt" in med:
        j = med["jaxpt"]
        for peer in ("Tunix", "TRL"):  # TRL last: the ratio line ends the output
            if peer in med:
                t = med[peer]
                print(f"split {peer}/jaxpt: generation {t['gen'] / j['gen']:.2f}x, update "
                      f"{t['update'] / j['update']:.2f}x")
                print(f"jaxpt/{peer} ratio: {t['step'] / j['step']:.2f}")


if __name__ == "__main__":
    main()
