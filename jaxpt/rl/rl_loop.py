"""The RL loop: rollouts with the in-graph sampler, verifier rewards, advantages, policy updates, held-out
evaluation, FLOPs, metrics, checkpoints and exact resume.

    result = run_rl({"workdir": "/tmp/rl", "rl": {"algorithm": "dapo_dc", "total_steps": 50}},
                    "runs/sft/best_model", on_eval=hook)
    result.history   # [(step, cumulative RL FLOPs, held-out accuracy)]

A step: take gen_prompts prompts, sample G responses each (jaxpt.sample.core.sample, compiled once), score
them in a background thread (jaxpt.rewards.verify_batch) while the next dynamic-sampling round generates
(when it is certainly needed, or always with rl.speculate="always"), keep groups (all, or the informative
ones under dynamic sampling, up to train_prompts), build a fixed-shape batch (mixing expert trajectories for
LUFFY/SRFT, gating to SFT for UPT), compute advantages, and run ppo_epochs x num_minibatches updates against
the behaviour logprobs. `on_eval(step, metrics) -> bool` is called after every evaluation (metrics has step,
rl_flops, accuracy); returning True stops the run after a checkpoint.

Randomness is a function of (seed, step, round), the prompt order of (data.shuffle_seed, epoch), and the
checkpoint stores the prompt position, so a resumed run repeats an uninterrupted one exactly.
"""
import concurrent.futures
import dataclasses
import json
import logging
import pathlib
import time
from typing import Callable, List, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxpt.analysis import flops as flops_lib
from jaxpt.config import merge, rl_config, validate
from jaxpt.data.formatting import PromptFormat
from jaxpt.data.tokenizer import load_tokenizer, stop_token_ids, tokenizer_dir
from jaxpt.models.config import ModelConfig
from jaxpt.models.model import Model, param_shardings
from jaxpt.parallel.mesh import sharder_from_config
from jaxpt.parallel.rules import batch_divisor
from jaxpt.rl import rl_step
from jaxpt.rl.algorithms import RLAlgo, resolve
from jaxpt.rl.batch import BatchSpec, Round, assemble, minibatch_order, overlong_shaping, rule_rewards, \
    select_groups
from jaxpt.rl.data import PromptIterator, PromptSet, prompts_from_experts, tokenize_prompts, with_solutions
from jaxpt.sample.core import sample
from jaxpt.sample.sampler import left_pad
from jaxpt.sample.settings import SampleSettings, batch_bucket, length_bucket
from jaxpt.train import sft_step
from jaxpt.train.loss_chunk import resolve_loss_chunk
from jaxpt.train.checkpointing import TrainCheckpointer, export_model, with_shardings
from jaxpt.train.optimizer import optimizer_for
from jaxpt.utils.metrics import MetricsWriter

OnEval = Callable[[int, dict], bool]
# reward_fn(response texts, gold answers[, truncated bool [n]]) -> (correct bool [n], stats dict)
RewardFn = Callable[[List[str], List[str]], Tuple[np.ndarray, dict]]


@dataclasses.dataclass
class RLResult:
    workdir: str
    history: List[Tuple[int, float, float]]  # (step, cumulative RL FLOPs, held-out accuracy)
    final_step: int
    rl_flops: float
    stopped_by_hook: bool
    final_model_dir: Optional[str]
    checkpoint_dir: str
    step_metrics: List[dict]  # per-step metrics of this process's run (not of resumed-over steps)
    evals: List[dict]  # per evaluation: step, rl_flops, overall and per-set scores ("per")
    model_config: ModelConfig
    tokenizer_dir: str
    state: dict = dataclasses.field(default=None, repr=False)


# ------------------------------------------------------------------------------------------------ helpers
def verifier_reward_fn(grading: str = "strict", timeout_s: float = 0.0, workers: int = 0) -> RewardFn:
    """The verifier as a reward: `grading` is a jaxpt.rewards mode; an output the sampler cut off at the length
    limit (truncated) scores only through an explicit, complete final answer."""
    from jaxpt.rewards import verify_batch

    def fn(texts, golds, truncated=None):
        ok, stats = verify_batch(list(texts), list(golds), timeout_s=timeout_s or None, workers=workers or None,
                                 grading=grading, truncated=None if truncated is None else list(truncated),
                                 return_stats=True)
        return np.asarray(ok, bool), dict(stats)

    return fn


def _takes_truncated(fn) -> bool:
    import inspect

    try:
        return len(inspect.signature(fn).parameters) >= 3
    except (TypeError, ValueError):
        return False


def _to_device(x, sharding):
    if sharding is None:
        return jax.device_put(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def _host(tree):
    """Device arrays -> numpy; across processes, batch-sharded arrays are gathered first (every process
    builds the same host batch, as the SFT loop does)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
    return jax.device_get(tree)


def _tree_to_device(tree: dict, sharding):
    return {k: _to_device(v, sharding) for k, v in tree.items()}


def _load_init(init, c, sharder):
    """(ModelConfig, params, tokenizer dir or None) from a Model, (cfg, params), or model.init_from."""
    mc = c.model
    over = dict(param_dtype=mc.param_dtype, dtype=mc.dtype, remat=mc.remat, scan_layers=bool(mc.scan_layers))
    if mc.attention_impl:
        over["attention_impl"] = mc.attention_impl
    if init is None or isinstance(init, (str, pathlib.Path)):
        from jaxpt.train.setup import initial_params, load_stage_tokenizer, resolve_model_config

        if init is not None:
            c = merge(c, {"model": {"init_from": str(init)}})
        tok_dir, tok = load_stage_tokenizer(c)
        cfg = resolve_model_config(c, tok)
        return cfg, initial_params(c, cfg, sharder, int(c.seed)), tok_dir
    if isinstance(init, Model):
        cfg, params, tok = init.config, init.params, init.tokenizer_dir
    else:
        cfg, params = init
        tok = None
    if cfg.scan_layers != over["scan_layers"]:
        over["scan_layers"] = cfg.scan_layers  # a params tree in memory keeps its layout
    cfg = cfg.replace(**over)
    dtype = jnp.dtype(cfg.param_dtype)
    # Copy (and cast): the update donates its state, the caller's arrays must survive.
    shard = param_shardings(cfg, sharder)
    copy = jax.jit(lambda p: jax.tree.map(lambda x: jnp.array(x, dtype=dtype, copy=True), p), out_shardings=shard)
    return cfg, copy(params), tok


def _trim_jsonl(path: pathlib.Path, last_step: int) -> None:
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= last_step]
    path.write_text("".join(line + "\n" for line in keep))


def evaluate_correct(params, cfg: ModelConfig, prompts: PromptSet, tokenizer, settings: SampleSettings,
                     reward_fn: RewardFn, sharder=None, batch_prompts: int = 0, seed: int = 0) -> np.ndarray:
    """Samples settings.n responses per prompt (greedy at temperature 0) and verifies them.

    Returns bool [len(prompts) * n] (prompt-major). Prompts go to the sampler in chunks of batch_prompts
    (0 = all at once, bucketed), left padded to one length bucket.
    """
    ids = prompts.prompt_ids
    n = settings.n
    per = int(batch_prompts) or len(ids)
    div = batch_divisor(sharder)
    rows_sh = sharder.sharding(("batch",)) if sharder is not None else None
    length = length_bucket(max(len(p) for p in ids))
    correct = []
    for start in range(0, len(ids), per):
        chunk = ids[start:start + per]
        batch = batch_bucket(len(chunk), div) if not batch_prompts else -(-per // div) * div
        tokens, mask = left_pad(chunk, length, batch, settings.pad_id)
        st = sample(params, cfg, _to_device(tokens, rows_sh), _to_device(mask, rows_sh), jax.random.key(seed),
                    settings, sharder)
        toks, lens = _host((st.tokens, st.lengths))
        rows = len(chunk) * n
        texts = tokenizer.batch_decode([t[:k].tolist() for t, k in zip(toks[:rows], lens[:rows])],
                                       skip_special_tokens=True)
        golds = [prompts.answers[start + i // n] for i in range(rows)]
        ok, _ = reward_fn(texts, golds)
        correct.extend(np.asarray(ok, bool).tolist())
    return np.asarray(correct, bool)


# ------------------------------------------------------------------------------------------------ the loop
class RLRunner:
    """Holds the set-up of one run; `run()` executes it. Most callers use `run_rl`."""

    def __init__(self, config=None, init=None, prompts=None, experts=None, eval_records=None,
                 on_eval: Optional[OnEval] = None, reward_fn: Optional[RewardFn] = None,
                 eval_fn: Optional[Callable] = None):
        c = validate(merge(rl_config(), config, "RL config"), "rl")
        self.c = c
        self.on_eval, self.eval_fn = on_eval, eval_fn
        self.workdir = pathlib.Path(c.workdir).absolute()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.is_main = jax.process_index() == 0
        self.sharder = sharder_from_config(c.mesh)
        self.algo: RLAlgo = resolve(c.rl)
        r = c.rl

        self.cfg, params, init_tok = _load_init(init, c, self.sharder)
        tok_spec = c.tokenizer or init_tok
        if not tok_spec:
            from jaxpt.train.setup import uses_toy

            if not uses_toy(c):
                raise ValueError("the initial policy has no tokenizer files: set config.tokenizer")
            tok_spec = "toy"
        self.tok_dir = tokenizer_dir(tok_spec)
        self.tok = load_tokenizer(self.tok_dir)
        from jaxpt.train.setup import check_tokenizer_fits

        check_tokenizer_fits(self.tok, self.cfg, c.tokenizer or "(the model's own)", pretrained=False)
        self.fmt = PromptFormat.from_config(c.prompt)
        stops = stop_token_ids(self.tok, self.cfg.eos_token_ids)
        self.eos_ids = tuple(stops)
        self.pad_id = int(self.tok.pad_token_id if self.tok.pad_token_id is not None else stops[0])

        # Data: the given records, else the config's data section (jaxpt.data.roles).
        from jaxpt.data.roles import eval_sets, expert_records, rl_records

        where = "the given prompt records"
        if prompts is None:
            prompts, where = rl_records(c)
        if self.algo.needs_experts:
            if experts is None:
                experts = expert_records(c)
            prompt_recs = with_solutions(prompts_from_experts(prompts, experts))
        else:
            prompt_recs = prompts
        max_prompt = int(c.data.rl.max_prompt_len)
        self.prompts, self.dropped_prompts = tokenize_prompts(prompt_recs, self.tok, self.fmt, max_prompt, stops)
        if not len(self.prompts):
            raise ValueError(f"data.rl: no RL prompts left from {where} after dropping {self.dropped_prompts} "
                             f"(without an answer, or longer than data.rl.max_prompt_len={max_prompt})")
        self.prompt_len = max_prompt or length_bucket(max(len(p) for p in self.prompts.prompt_ids))
        # Evaluation: the one evaluator (jaxpt.eval.scorer) on the given records or the eval section's sets.
        from jaxpt.eval.scorer import Scorer

        sets = {"heldout": list(eval_records)} if eval_records is not None else (
            eval_sets(c) if (c.eval.benchmarks or c.eval.source) else {})
        vt, vw = float(r.verifier_timeout_s) or None, int(r.verifier_workers) or None
        self.scorer = Scorer.from_config(c, self.tok, sets, verify_timeout_s=vt, verify_workers=vw) \
            if sets and any(sets.values()) else None

        # Shapes and settings.
        self.G = self.algo.group_size
        self.B_gen = int(r.gen_prompts)
        self.B_train = int(r.train_prompts or r.gen_prompts)
        self.N = int(r.max_new_tokens)
        if not self.algo.dynamic_sampling and self.B_train > self.B_gen:
            raise ValueError(f"rl.train_prompts={self.B_train} > rl.gen_prompts={self.B_gen} needs dynamic sampling")
        div = batch_divisor(self.sharder)
        self.gen_chunk = int(r.gen_batch_prompts or self.B_gen)
        if self.B_gen % self.gen_chunk or self.gen_chunk % div:
            raise ValueError(f"rl.gen_prompts={self.B_gen} must split into sampler calls of rl.gen_batch_prompts="
                             f"{self.gen_chunk} prompts, each divisible by the mesh batch size {div}")
        self.settings = SampleSettings(max_new_tokens=self.N, temperature=float(r.temperature), top_p=float(r.top_p),
                                       top_k=int(r.top_k), n=self.G, eos_ids=self.eos_ids, pad_id=self.pad_id)
        self.train_temp = float(r.train_temperature or r.temperature or 1.0)
        plain = self.settings.top_p >= 1.0 and self.settings.top_k == 0
        if self.train_temp == 1.0:
            self.behaviour = "sampler"  # state.logprobs: model logprob at temperature 1
        elif plain and self.train_temp == self.settings.temperature:
            self.behaviour = "sampling"  # state.sampling_logprobs: the tempered distribution sampled
        else:
            self.behaviour = "recompute"
        if r.recompute_old_logprobs:
            self.behaviour = "recompute"
        self.spec = BatchSpec(train_prompts=self.B_train, group=self.G, num_expert=self.algo.num_expert,
                              prompt_len=self.prompt_len, max_new_tokens=self.N, pad_id=self.pad_id,
                              batch_mode=self.algo.batch_mode, advantage=self.algo.advantage,
                              adv_eps=float(r.adv_eps), upt_gate=int(r.upt_gate),
                              overlong_filter=bool(r.overlong_filter), expert_reward=float(r.reward_correct))
        rows = self.spec.rows
        self.num_mb = int(r.num_minibatches)
        if (rows // self.spec.width) % self.num_mb:
            raise ValueError(f"train_prompts={self.B_train} must divide by rl.num_minibatches={self.num_mb}")
        self.mb_rows = rows // self.num_mb
        micro = int(r.micro_batch_rows or self.mb_rows)
        if self.mb_rows % micro or (micro % div):
            raise ValueError(f"mini-batch of {self.mb_rows} rows must split into micro-batches of {micro} rows, "
                             f"each divisible by the mesh batch size {div}")
        self.num_micro = self.mb_rows // micro
        self.updates_per_step = int(r.ppo_epochs) * self.num_mb

        # Optimizer, steps.
        total_updates = int(r.total_steps) * self.updates_per_step
        self.tx, self.schedule = optimizer_for(c, "rl", total_updates)
        self.state_sh = sft_step.state_shardings(self.cfg, self.tx, self.sharder)
        loss_cfg = self.algo.loss
        if loss_cfg.agg_mode == "seq-mean-token-sum" and not loss_cfg.agg_constant:
            loss_cfg = dataclasses.replace(loss_cfg, agg_constant=float(self.N))
        self.loss_cfg = loss_cfg
        # Logits exist only at the N response positions.
        chunk = resolve_loss_chunk(r.loss_chunk, micro, self.N, self.cfg.vocab_size, div)
        self.update_fn = rl_step.make_update_fn(self.cfg, loss_cfg, self.tx, self.schedule, self.sharder,
                                                self.train_temp, bool(r.compute_entropy), chunk)
        self.logprob_fn = rl_step.make_logprob_fn(self.cfg, self.N, self.train_temp, self.sharder, chunk)
        self.ref_params = None
        if loss_cfg.kl_coef:
            shard = param_shardings(self.cfg, self.sharder)
            self.ref_params = jax.jit(lambda p: jax.tree.map(jnp.copy, p), out_shardings=shard)(params)
        self._init_params = params
        self.reward_fn = reward_fn or verifier_reward_fn(r.grading, float(r.verifier_timeout_s),
                                                         int(r.verifier_workers))
        self.rows_sh = self.sharder.sharding(("batch",)) if self.sharder is not None else None
        self.micro_sh = rl_step.batch_sharding(self.sharder, True)

    # -------------------------------------------------------------------------------------------- rollouts
    def _key(self, step: int, rnd: int):
        return jax.random.fold_in(jax.random.fold_in(jax.random.key(int(self.c.seed)), step), rnd)

    def generate(self, params, idx: np.ndarray, key) -> Round:
        """Samples G responses for each prompt of `idx` (in chunks of rl.gen_batch_prompts prompts)."""
        ids = [self.prompts.prompt_ids[i] for i in idx]
        tokens, mask = left_pad(ids, self.prompt_len, len(ids), self.pad_id)
        chunk = self.gen_chunk
        parts = []
        for c0 in range(0, len(ids), chunk):
            t = _to_device(tokens[c0:c0 + chunk], self.rows_sh)
            m = _to_device(mask[c0:c0 + chunk], self.rows_sh)
            st = sample(params, self.cfg, t, m, jax.random.fold_in(key, c0), self.settings, self.sharder)
            parts.append({"tokens": st.tokens, "logprobs": st.logprobs, "slp": st.sampling_logprobs,
                          "lengths": st.lengths, "done": st.done})
        parts = _host(parts)
        host = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        # The sampler's logprob at the training temperature: tempered (sampling) or plain (temperature 1).
        tempered = self.train_temp != 1.0 and self.train_temp == self.settings.temperature
        old = host["slp"] if tempered else host["logprobs"]
        return Round(prompt_ids=np.asarray(idx), prompt_tokens=tokens, prompt_mask=mask, tokens=host["tokens"],
                     old_logp=np.asarray(old, np.float32), sampler_logp=np.asarray(old, np.float32),
                     lengths=host["lengths"], truncated=~host["done"], group=self.G)

    def score(self, rnd: Round) -> dict:
        """Decodes and verifies one round; fills rnd.correct / rnd.reward / rnd.texts. Runs in a thread."""
        t0 = time.perf_counter()
        resp = [row[:n].tolist() for row, n in zip(rnd.tokens, rnd.lengths)]
        texts = self.tok.batch_decode(resp, skip_special_tokens=True)
        golds = [self.prompts.answers[i] for i in np.repeat(rnd.prompt_ids, self.G)]
        if _takes_truncated(self.reward_fn):
            correct, stats = self.reward_fn(texts, golds, rnd.truncated)
        else:
            correct, stats = self.reward_fn(texts, golds)
        r = self.c.rl
        reward = rule_rewards(correct, float(r.reward_correct), float(r.reward_wrong))
        if self.algo.overlong_shaping:
            lmax = int(r.overlong_max_len or self.N)
            reward = reward + float(r.overlong_penalty) * overlong_shaping(rnd.lengths, lmax, int(r.overlong_cache_len))
        rnd.correct, rnd.reward, rnd.texts = np.asarray(correct, bool), reward.astype(np.float32), texts
        return {"seconds": time.perf_counter() - t0, **{k: v for k, v in stats.items()
                                                         if isinstance(v, (int, float))}}

    def collect(self, params, step: int, it: PromptIterator, pool) -> dict:
        """Generation rounds until the batch is full (dynamic sampling) or one round (otherwise)."""
        r = self.c.rl
        dynamic = self.algo.dynamic_sampling
        max_rounds = max(1, int(r.max_gen_rounds)) if dynamic else 1
        speculate = str(r.speculate)
        rounds: List[Round] = []
        gen_s, score_s, wait_s = 0.0, 0.0, 0.0
        next_round, score_stats = None, []
        kept: list = []
        informative = 0
        while True:
            t0 = time.perf_counter()
            if next_round is None:
                next_round = self.generate(params, it.take(self.B_gen), self._key(step, len(rounds)))
            gen_s += time.perf_counter() - t0
            rnd, next_round = next_round, None
            rounds.append(rnd)
            fut = pool.submit(self.score, rnd)
            if dynamic and len(rounds) < max_rounds and speculate != "off":
                # Generate the next round while this one is scored: "safe" only when it is needed even if
                # every group of this round is kept, "always" regardless (an unneeded round is dropped).
                kept_before, _ = select_groups(rounds[:-1], self.B_train, True, r.ds_metric)
                if speculate == "always" or len(kept_before) + rnd.num_prompts < self.B_train:
                    t0 = time.perf_counter()
                    next_round = self.generate(params, it.take(self.B_gen), self._key(step, len(rounds)))
                    gen_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            score_stats.append(fut.result())
            wait_s += time.perf_counter() - t0
            score_s += score_stats[-1]["seconds"]
            kept, informative = select_groups(rounds, self.B_train, dynamic, r.ds_metric)
            if not dynamic or len(kept) >= self.B_train:
                break
            if len(rounds) >= max_rounds:
                break
        wasted = 1 if next_round is not None else 0
        stats = {}
        for s in score_stats:
            for k, v in s.items():
                if k != "seconds":
                    stats[k] = stats.get(k, 0) + v
        return {"rounds": rounds, "kept": kept, "informative": informative, "gen_s": gen_s, "score_s": score_s,
                "score_wait_s": wait_s, "wasted_rounds": wasted, "verifier": stats}

    # -------------------------------------------------------------------------------------------- evaluation
    def evaluate(self, params) -> Optional[float]:
        """The score on the eval sets (jaxpt.eval.scorer; eval_fn when given); per-set scores go to
        self.eval_details. None when there is nothing to evaluate."""
        self.eval_details = {}
        model = Model(self.cfg, params, self.sharder, tokenizer_dir=str(self.tok_dir))
        if self.eval_fn is not None:
            score = self.eval_fn(model)
        elif self.scorer is not None:
            score = self.scorer(model)
        else:
            return None
        if hasattr(score, "overall"):
            self.eval_details = {f"eval/{name}": v for name, v in score.per.items()}
            self.eval_details["eval/truncated"] = score.truncated
            return float(score.overall)
        return float(score)

    # -------------------------------------------------------------------------------------------- FLOPs
    def step_flops(self, col: dict, batch_info: dict, batch: dict) -> Tuple[float, dict]:
        rounds = col["rounds"]
        gen_rows = sum(len(r.lengths) for r in rounds) + col["wasted_rounds"] * self.B_gen * self.G
        plen = np.concatenate([np.repeat(r.prompt_mask.sum(1), self.G) for r in rounds])
        rlen = np.concatenate([r.lengths for r in rounds])
        s_on = float(np.mean(plen + rlen))
        k = len(rounds) + col["wasted_rounds"]
        n_kept = len(col["kept"])
        mode = self.algo.batch_mode
        if mode == "rollouts":
            f = flops_lib.dapo_step_flops(self.cfg, self.B_gen, n_kept, self.G, s_on, gen_rounds=k)
        else:
            off = batch["off"] + batch["sft"] > 0
            s_off = float(np.mean(batch["attn"][off].sum(1))) if off.any() else 0.0
            if mode == "mixed":
                f = flops_lib.luffy_step_flops(self.cfg, n_kept, self.G, s_on, self.algo.num_expert, s_off)
                if k > 1:  # extra dynamic-sampling rounds: generation only
                    f += (k - 1) * self.B_gen * self.G * s_on * flops_lib.forward_flops_per_token(self.cfg, s_on)
            else:
                f = flops_lib.upt_step_flops(self.cfg, n_kept, self.G, s_on, batch_info["onpolicy_rows"],
                                             batch_info["sft_rows"], s_off)
        return float(f), {"seq_len_on": s_on, "gen_rows": gen_rows}

    # -------------------------------------------------------------------------------------------- update
    def update(self, state, batch: dict, step: int):
        """ppo_epochs x num_minibatches updates; returns (state, per-update metrics). A mini-batch without a
        single loss token (dynamic sampling found nothing) is skipped: Adam's momentum would still move."""
        rng = np.random.default_rng([int(self.c.seed), step, 991])
        dev_keys = rl_step.BATCH_KEYS
        results = []
        for epoch in range(int(self.c.rl.ppo_epochs)):
            order = minibatch_order(self.spec.rows, self.spec.width, self.num_mb, rng)
            for mb_idx in order:
                if not batch["mask"][mb_idx].any():
                    continue
                mb = {k: batch[k][mb_idx] for k in dev_keys}
                mb = {k: v.reshape((self.num_micro, v.shape[0] // self.num_micro) + v.shape[1:]) for k, v in mb.items()}
                state, m = self.update_fn(state, _tree_to_device(mb, self.micro_sh))
                results.append(m)
        fetched = jax.device_get(results)
        return state, fetched, self.updates_per_step - len(results)

    # -------------------------------------------------------------------------------------------- run
    def run(self) -> RLResult:
        c, r = self.c, self.c.rl
        ckpt = TrainCheckpointer(self.workdir / "checkpoints", int(c.checkpoint.max_to_keep))
        it = PromptIterator(len(self.prompts), seed=int(c.data.rl.shuffle_seed))
        latest = ckpt.latest_step()
        progress = {"step": 0, "rl_flops": 0.0, "history": [], "gen_rounds": 0, "samples": 0}
        if latest is not None and not c.checkpoint.resume:
            raise ValueError(f"{self.workdir}/checkpoints already holds step {latest}: set checkpoint.resume=True "
                             "to continue it, or use a fresh workdir")
        if latest is not None:
            abstract = with_shardings(sft_step.abstract_state(self.cfg, self.tx), self.state_sh)
            state, meta = ckpt.restore(latest, abstract)
            it.load_state_dict(meta["prompts"])
            progress = meta["progress"]
            self._init_params = None
            if self.is_main:
                _trim_jsonl(self.workdir / "metrics.jsonl", latest)
                _trim_jsonl(self.workdir / "samples.jsonl", latest)
            logging.info("resumed RL from %s step %d", ckpt.directory, latest)
        else:
            state = sft_step.make_init_fn(self.tx, self.state_sh)(self._init_params)
            self._init_params = None
        if self.is_main:
            (self.workdir / "config.json").write_text(c.to_json_best_effort(indent=2))
        writer = MetricsWriter(self.workdir, tensorboard=bool(c.log.tensorboard), enabled=self.is_main)
        samples_f = open(self.workdir / "samples.jsonl", "a") if (self.is_main and int(c.log.samples)) else None
        start = int(progress["step"])
        total, stop_at = int(r.total_steps), int(r.stop_at_step or 0)
        if start == 0:
            writer.write(0, {"data/prompts": len(self.prompts), "data/dropped_prompts": self.dropped_prompts,
                             "data/prompt_len": self.prompt_len,
                             "data/eval_records": len(self.scorer.records) if self.scorer is not None else 0,
                             "flops/forward_per_token": flops_lib.forward_flops_per_token(self.cfg, self.prompt_len)})
        step_metrics: List[dict] = []
        stopped = False

        def do_eval(step: int) -> bool:
            t0 = time.perf_counter()
            acc = self.evaluate(state["params"])
            if acc is None:
                return False
            progress["history"].append((step, float(progress["rl_flops"]), acc))
            per = {k[len("eval/"):]: v for k, v in self.eval_details.items() if k != "eval/truncated"}
            progress.setdefault("evals", []).append({"step": step, "rl_flops": float(progress["rl_flops"]),
                                                     "overall": acc, "per": per})
            m = {"eval/accuracy": acc, "eval/seconds": time.perf_counter() - t0,
                 "flops/rl_cumulative": float(progress["rl_flops"]), **getattr(self, "eval_details", {})}
            writer.write(step, m)
            logging.info("RL step %d: held-out accuracy %.4f (%.3g RL FLOPs)", step, acc, progress["rl_flops"])
            if self.on_eval is not None:
                return bool(self.on_eval(step, {"step": step, "rl_flops": float(progress["rl_flops"]),
                                                "accuracy": acc, **m}))
            return False

        every = int(r.eval_every)
        if start == 0 and r.eval_at_start and every > 0:
            stopped = do_eval(0)
        bar = None
        if c.log.progress and self.is_main:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=start, desc=f"rl[{self.algo.name}]", dynamic_ncols=True)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rl-score")
        step = start
        try:
            while not stopped and step < total and not (stop_at and step >= stop_at):
                t_step = time.perf_counter()
                col = self.collect(state["params"], step, it, pool)
                t_upd = time.perf_counter()
                batch, binfo = assemble(self.spec, col["rounds"], col["kept"], self.prompts.expert_ids)
                need_recompute = self.behaviour == "recompute"
                gap_recompute = None
                if need_recompute or self.ref_params is not None:
                    toks = _to_device(batch["tokens"], self.rows_sh)
                    attn = _to_device(batch["attn"], self.rows_sh)
                    if need_recompute:
                        old = np.asarray(_host(self.logprob_fn(state["params"], toks, attn)))
                        on = batch["mask"] * (1 - batch["off"] - batch["sft"])[:, None]
                        gap_recompute = float(np.sum(np.abs(old - batch["sampler_logp"]) * on) / max(on.sum(), 1))
                        batch["old_logp"] = np.where(batch["mask"] > 0, old, 0.0).astype(np.float32)
                    if self.ref_params is not None:
                        batch["ref_logp"] = np.asarray(_host(self.logprob_fn(self.ref_params, toks, attn)))
                if "ref_logp" not in batch:
                    batch["ref_logp"] = np.zeros_like(batch["old_logp"])
                # Expert / SFT rows have no behaviour logprob.
                batch["old_logp"] = np.where((batch["off"] + batch["sft"])[:, None] > 0, 0.0, batch["old_logp"])
                state, ms, skipped = self.update(state, batch, step)
                t_end = time.perf_counter()
                step += 1
                f, finfo = self.step_flops(col, binfo, batch)
                progress["rl_flops"] = float(progress["rl_flops"]) + f
                progress["step"] = step
                progress["gen_rounds"] = int(progress["gen_rounds"]) + len(col["rounds"])
                metrics = self._step_metrics(col, binfo, batch, ms, f, finfo, progress, t_step, t_upd, t_end,
                                             gap_recompute)
                metrics["train/skipped_updates"] = skipped
                writer.write(step, metrics)
                step_metrics.append({"step": step, **metrics})
                if samples_f is not None:
                    self._write_samples(samples_f, step, col)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(acc=f"{metrics['rollout/accuracy']:.3f}", kept=f"{metrics['ds/kept_groups']:.0f}",
                                    rounds=metrics["ds/rounds"], s=f"{metrics['perf/step_s']:.2f}")
                if every > 0 and (step % every == 0 or (step == total and r.eval_at_end)):
                    stopped = do_eval(step)
                ck_every = int(r.checkpoint_every)
                if (ck_every and step % ck_every == 0) or step == total or stopped or step == stop_at:
                    ckpt.save(step, state, {"prompts": it.state_dict(), "progress": progress})
        finally:
            pool.shutdown(wait=True)
            if bar is not None:
                bar.close()
            if samples_f is not None:
                samples_f.close()
        ckpt.close()
        writer.close()
        final_dir = None
        if r.export_final and step >= total:
            final_dir = str(export_model(state["params"], self.cfg, self.workdir / "final_model", str(self.tok_dir),
                                         self.sharder, {"step": step, "rl_flops": progress["rl_flops"],
                                                        "history": progress["history"]}))
        return RLResult(workdir=str(self.workdir), history=[tuple(h) for h in progress["history"]], final_step=step,
                        rl_flops=float(progress["rl_flops"]), stopped_by_hook=stopped, final_model_dir=final_dir,
                        checkpoint_dir=str(ckpt.directory), step_metrics=step_metrics,
                        evals=list(progress.get("evals", [])), model_config=self.cfg,
                        tokenizer_dir=str(self.tok_dir), state=state)

    def _step_metrics(self, col, binfo, batch, ms, f, finfo, progress, t_step, t_upd, t_end, gap_recompute):
        rounds = col["rounds"]
        correct = np.concatenate([x.correct for x in rounds]).astype(np.float32)
        reward = np.concatenate([x.reward for x in rounds])
        lengths = np.concatenate([x.lengths for x in rounds])
        trunc = np.concatenate([x.truncated for x in rounds])
        gen_prompts = sum(x.num_prompts for x in rounds)
        nan = float("nan")
        first, last = (ms[0], ms[-1]) if ms else ({}, {})
        get = lambda d, k: float(d.get(k, nan))  # noqa: E731
        gen_tokens = int(lengths.sum())
        train_tokens = int(batch["attn"].sum()) * int(self.c.rl.ppo_epochs)
        step_s = t_end - t_step
        has = batch["mask"].sum(1) > 0  # rows that train
        m = {
            "rollout/reward_mean": float(reward.mean()), "rollout/accuracy": float(correct.mean()),
            "rollout/response_len_mean": float(lengths.mean()), "rollout/response_len_max": int(lengths.max()),
            "rollout/truncation_rate": float(trunc.mean()),
            "batch/reward_mean": float(batch["reward"][has].mean()) if has.any() else 0.0,
            "batch/adv_abs_mean": float(np.abs(batch["adv"][has]).mean()) if has.any() else 0.0,
            "batch/loss_tokens": float(batch["mask"].sum()),
            "ds/rounds": len(rounds), "ds/wasted_rounds": col["wasted_rounds"],
            "ds/kept_groups": len(col["kept"]), "ds/kept_fraction": len(col["kept"]) / max(gen_prompts, 1),
            "ds/informative_fraction": col["informative"] / max(gen_prompts, 1),
            "ds/batch_fill": len(col["kept"]) / self.B_train,
            "train/loss": get(last, "loss"), "train/pg_loss": get(last, "pg_loss"),
            "train/grad_norm": get(last, "grad_norm"), "train/lr": get(last, "lr"),
            "train/clip_frac": float(np.mean([x.get("clip_frac", 0.0) for x in ms])) if ms else nan,
            "train/dual_clip_frac": float(np.mean([x.get("dual_clip_frac", 0.0) for x in ms])) if ms else nan,
            "train/entropy": get(first, "entropy"),
            "train/approx_kl": get(last, "approx_kl"),
            # Sampler vs trainer logprobs on the first update, before the parameters move.
            "train/logprob_gap": get(first, "logprob_gap") if gap_recompute is None else gap_recompute,
            "perf/step_s": step_s, "perf/gen_s": col["gen_s"], "perf/score_s": col["score_s"],
            "perf/score_wait_s": col["score_wait_s"], "perf/update_s": t_end - t_upd,
            "perf/tokens_per_s": (gen_tokens + train_tokens) / max(step_s, 1e-9),
            "perf/gen_tokens_per_s": gen_tokens / max(col["gen_s"], 1e-9),
            "flops/step": f, "flops/rl_cumulative": float(progress["rl_flops"]),
            "flops/seq_len": finfo["seq_len_on"],
        }
        if "kl" in last:
            m["train/kl"] = float(last["kl"])
        for k in ("w_sft", "w_pos", "off_prob"):
            if k in first:
                m[f"train/{k}"] = float(first[k])
        for k, v in binfo.items():
            m[f"batch/{k}"] = v
        for k, v in col["verifier"].items():
            m[f"verifier/{k}"] = v
        return m

    def _write_samples(self, f, step: int, col: dict) -> None:
        rnd = col["rounds"][0]
        for i in range(min(int(self.c.log.samples), len(rnd.texts))):
            p = int(rnd.prompt_ids[i // self.G])
            f.write(json.dumps({"step": step, "prompt": self.tok.decode(self.prompts.prompt_ids[p]),
                                "question": self.prompts.records[p]["question"],
                                "answer": self.prompts.answers[p], "response": rnd.texts[i],
                                "correct": bool(rnd.correct[i]), "reward": float(rnd.reward[i]),
                                "length": int(rnd.lengths[i])}) + "\n")


def run_rl(config=None, init=None, prompts=None, experts=None, eval_records=None,
           on_eval: Optional[OnEval] = None, reward_fn: Optional[RewardFn] = None,
           eval_fn: Optional[Callable] = None) -> RLResult:
    """Runs (or resumes) RL.

    config: partial dict/ConfigDict over jaxpt.config.rl_config() (rl.algorithm picks the paradigm).
    init: the initial policy: a Model, (ModelConfig, params), or a path (jaxpt checkpoint / HF dir);
        None = config.model.init_from. The caller's arrays are copied, never donated.
    prompts: optional records {question, answer[, solution]} instead of config.data; experts: optional
        expert records {question, solution, answer} for LUFFY / SRFT / UPT (alone they are the prompts).
    eval_records: optional held-out records {question, answer} for the periodic greedy evaluation.
    on_eval(step, metrics) -> bool: called after each evaluation; True stops the run.
    reward_fn(texts, golds) -> (correct bool array, stats): replaces the verifier.
    eval_fn(model) -> accuracy: replaces the built-in sampler + verifier evaluation.
    """
    return RLRunner(config, init, prompts, experts, eval_records, on_eval, reward_fn, eval_fn).run()
