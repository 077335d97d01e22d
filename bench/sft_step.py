"""Tokens/s of the jitted jaxpt SFT step vs transformers + torch AdamW on the same config and batch.

    python -m bench.sft_step                       # 32M-parameter Qwen2-style model, B 8 x T 512, fp32
    python -m bench.sft_step --layers=4 --seq=256   # smaller/faster variants

Both sides do the same work per step: forward, token-mean cross-entropy over all positions, backward,
global-norm clipping at 1.0 and AdamW. Timing alternates rounds (JAX, torch, matmuls, JAX, torch, ...) so that
load from other processes hits all alike; the medians over all timed steps are reported. The first step of
each side (compilation for JAX, allocator warm-up for torch) is reported apart.

The yardstick is the machine's jitted matmul throughput on the step's own products: every weight of the
model as [B*T, in] x [in, out] (forward) and its two transposes ([B*T, out] x [out, in] for the input
gradient, [in, B*T] x [B*T, out] for the weight gradient), each a separate jitted JAX call, weighted by how
often the step runs it. Each side's step FLOP rate is printed as a fraction of that throughput. The same
products as torch matmuls give torch's yardstick, and the ceiling line says what jax/torch ratio the machine
allows at all (jax's step at 100% of its yardstick against torch's step as measured).
"""
import argparse
import os
import statistics
import time

from jaxpt.utils import runtime


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The 32M-parameter benchmark model's shape (shared with bench.rl_step)."""
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv_heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=1408)


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=2, help="timed steps per round and side")
    p.add_argument("--attention_impl", default="einsum")
    p.add_argument("--remat", default="none")
    p.add_argument("--loss_chunk", type=int, default=0)
    p.add_argument("--skip_torch", action="store_true")
    p.add_argument("--skip_jax", action="store_true")
    return p.parse_args()


def model_config(a):
    from jaxpt.models.config import get_config

    return get_config("qwen2.5-0.5b", vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
                      num_layers=a.layers, num_heads=a.heads, num_kv_heads=a.kv_heads, tie_embeddings=False,
                      attention_impl=a.attention_impl, remat=a.remat, bos_token_id=None, eos_token_ids=(1,))


def make_tokens(a):
    import numpy as np

    return np.random.default_rng(0).integers(0, a.vocab, (a.batch, a.seq)).astype(np.int32)


class JaxSide:
    def __init__(self, a, cfg, tokens):
        import jax
        import numpy as np

        from jaxpt.models.model import Model
        from jaxpt.train import sft_step

        self.jax = jax
        tx, sched = sft_step.make_optimizer(1e-4, 1000, warmup_steps=0, schedule="constant", b2=0.999,
                                            weight_decay=0.01, clip_norm=1.0)
        self.state = sft_step.make_init_fn(tx)(Model.from_config(cfg, seed=0).params)
        self.step_fn = sft_step.make_train_step(cfg, tx, sched, loss_chunk=a.loss_chunk)
        b, t = tokens.shape
        weights = np.ones((b, t), np.float32)
        weights[:, -1] = 0  # the last position has no next token (as HF's shifted labels)
        targets = np.concatenate([tokens[:, 1:], np.zeros((b, 1), np.int32)], axis=1)
        batch = {"tokens": tokens, "positions": np.broadcast_to(np.arange(t, dtype=np.int32), (b, t)).copy(),
                 "segment_ids": np.ones((b, t), np.int32), "targets": targets, "weights": weights}
        self.batch = jax.device_put({k: v[None] for k, v in batch.items()})
        self.num_params = sum(int(x.size) for x in jax.tree.leaves(self.state["params"]))

    def step(self):
        t0, c0 = time.perf_counter(), time.process_time()
        self.state, m = self.step_fn(self.state, self.batch)
        self.loss = float(m["loss"])  # blocks until the step is done
        return time.perf_counter() - t0, time.process_time() - c0


def dense_products(cfg):
    """{(in, out): how many times a step runs the product} over the model's weight matrices."""
    from jaxpt.models.params import global_shapes, layer_shapes

    count = {}
    for shape in layer_shapes(cfg).values():
        if len(shape) == 2:
            count[shape] = count.get(shape, 0) + cfg.num_layers
    head = global_shapes(cfg).get("lm_head", (cfg.hidden_size, cfg.vocab_size))
    count[head] = count.get(head, 0) + 1
    return count


class MatmulSide:
    """The step's dense products alone, each a jitted JAX matmul: the throughput the step could reach."""

    def __init__(self, a, cfg, tokens):
        import jax
        import jax.numpy as jnp

        key = iter(jax.random.split(jax.random.key(0), 4 * len(dense_products(cfg))))
        normal = lambda *shape: jax.random.normal(next(key), shape, jnp.float32)  # noqa: E731
        products = (jax.jit(lambda x, w: x @ w), jax.jit(lambda dy, w: dy @ w.T), jax.jit(lambda x, dy: x.T @ dy))
        self._setup(a, cfg, normal, products, lambda out: jax.block_until_ready(out))

    def _setup(self, a, cfg, normal, products, wait):
        """products: (forward, input gradient, weight gradient) functions; wait(out) blocks until out is done."""
        fwd, dx, dw = products
        m = a.batch * a.seq
        count = dense_products(cfg)
        self.calls = []  # (fn, args, times per step)
        for (n_in, n_out), c in count.items():
            x, w, dy = normal(m, n_in), normal(n_in, n_out), normal(m, n_out)
            self.calls += [(fwd, (x, w), c), (dx, (dy, w), c), (dw, (x, dy), c)]
        self.flops = sum(2.0 * m * n_in * n_out * 3 * c for (n_in, n_out), c in count.items())
        self.wait = wait

    def step(self):
        """Runs each product once; returns the (wall, CPU) time the step's products would take."""
        wall = cpu = 0.0
        for fn, args, c in self.calls:
            t0, c0 = time.perf_counter(), time.process_time()
            self.wait(fn(*args))
            wall += c * (time.perf_counter() - t0)
            cpu += c * (time.process_time() - c0)
        return wall, cpu


class TorchMatmulSide(MatmulSide):
    """The same products as torch matmuls (torch's own yardstick): how fast torch's step could be at best."""

    def __init__(self, a, cfg, tokens):
        import torch

        g = torch.Generator().manual_seed(0)
        normal = lambda *shape: torch.randn(*shape, generator=g)
        products = (torch.matmul, lambda dy, w: dy @ w.T, lambda x, dy: x.T @ dy)
        self._setup(a, cfg, normal, products, lambda out: out)  # eager CPU torch returns finished tensors


class TorchSide:
    def __init__(self, a, cfg, tokens):
        import torch
        import transformers

        from jaxpt.models.hf_config import config_to_hf

        torch.set_num_threads(os.cpu_count() or 1)
        torch.manual_seed(0)
        hf_cfg = transformers.AutoConfig.for_model(**config_to_hf(cfg))
        self.torch = torch
        self.model = transformers.AutoModelForCausalLM.from_config(hf_cfg, dtype=torch.float32)
        self.model.train()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01)
        self.ids = torch.from_numpy(tokens.astype("int64"))
        self.num_params = sum(p.numel() for p in self.model.parameters())

    def step(self):
        t0, c0 = time.perf_counter(), time.process_time()
        out = self.model(input_ids=self.ids, labels=self.ids)
        out.loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.loss = float(out.loss.detach())
        return time.perf_counter() - t0, time.process_time() - c0


def main():
    a = parse()
    runtime.enable_compile_cache()
    from jaxpt.analysis.flops import sft_step_flops

    cfg = model_config(a)
    tokens = make_tokens(a)
    n_tok = a.batch * a.seq
    paper_flops = sft_step_flops(cfg, a.batch, a.seq)
    # The paper's formula counts the embedding lookup as a [V, H] matmul; it is a gather, so the step's real
    # work (what the fractions below use) leaves it out: dense products plus full [T, T] attention products.
    flops = paper_flops - 6.0 * n_tok * cfg.vocab_size * cfg.hidden_size
    sides = {}
    if not a.skip_jax:
        sides["jax"] = JaxSide(a, cfg, tokens)
    if not a.skip_torch:
        sides["torch"] = TorchSide(a, cfg, tokens)
    sides["matmul"] = MatmulSide(a, cfg, tokens)
    if not a.skip_torch:
        sides["torch matmul"] = TorchMatmulSide(a, cfg, tokens)
    first = {name: s.step()[0] for name, s in sides.items()}
    wall = {name: [] for name in sides}
    cpu = {name: [] for name in sides}
    for _ in range(a.rounds):
        for name, s in sides.items():
            for _ in range(a.steps):
                w, c = s.step()
                wall[name].append(w)
                cpu[name].append(c)
    n_params = next(s.num_params for name, s in sides.items() if name != "matmul") if len(sides) > 1 else 0
    mm = sides.pop("matmul")
    mm_wall, mm_cpu = statistics.median(wall.pop("matmul")), statistics.median(cpu.pop("matmul"))
    mm_rate, mm_cpu_rate = mm.flops / mm_wall, mm.flops / mm_cpu
    torch_mm_rate = None
    if "torch matmul" in sides:
        torch_mm_rate = sides.pop("torch matmul").flops / statistics.median(wall.pop("torch matmul"))
        cpu.pop("torch matmul")
    print(f"config: vocab {a.vocab}, hidden {a.hidden}, layers {a.layers}, heads {a.heads}/{a.kv_heads}, "
          f"ffn {a.ffn}, {n_params / 1e6:.1f}M params; batch {a.batch} x {a.seq} = {n_tok} tokens, fp32, "
          f"attention {a.attention_impl}, remat {a.remat}; {flops / 1e9:.0f} GFLOP per step (paper formula "
          f"{paper_flops / 1e9:.0f}, less the embedding lookup it counts as a matmul); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"matmul yardstick: the step's {mm.flops / 1e9:.0f} GFLOP of dense products (all weights x 3 "
          f"orientations) take {mm_wall:.3f} s as jitted JAX matmuls (median): {mm_rate / 1e9:.1f} GFLOP/s "
          f"(CPU time {mm_cpu:.3f} s)")
    if torch_mm_rate:
        print(f"torch matmul yardstick: the same products as torch matmuls: {torch_mm_rate / 1e9:.1f} GFLOP/s "
              f"(JAX's / torch's: {mm_rate / torch_mm_rate:.2f}x)")
    tps, cps = {}, {}
    for name in sides:
        med, cmed = statistics.median(wall[name]), statistics.median(cpu[name])
        tps[name], cps[name] = n_tok / med, n_tok / cmed
        print(f"{name:>5}: {tps[name]:8.1f} tokens/s  median step {med:.3f} s (min {min(wall[name]):.3f}, "
              f"max {max(wall[name]):.3f}, n={len(wall[name])}), {flops / med / 1e9:.1f} GFLOP/s = "
              f"{100 * flops / med / mm_rate:.0f}% of matmul throughput; CPU time {cmed:.3f} s/step "
              f"({cps[name]:.1f} tokens per CPU-second, {100 * flops / cmed / mm_cpu_rate:.0f}% of the matmuls' "
              f"rate per CPU-second); first step "
              f"{first[name]:.2f} s; final loss {sides[name].loss:.4f}")
    if len(tps) == 2:
        # The most jax/torch this machine allows: jax's step at 100% of its matmul yardstick (every non-matmul
        # op free) against torch's step as measured.
        bound = mm_rate / (flops / statistics.median(wall["torch"]))
        print(f"ceiling: jax at 100% of its matmul yardstick would be {bound:.2f}x torch's measured step")
        print(f"ratio jax/torch: {tps['jax'] / tps['torch']:.2f}x tokens/s (wall clock), "
              f"{cps['jax'] / cps['torch']:.2f}x tokens per CPU-second (robust to load from other processes)")


if __name__ == "__main__":
    main()
