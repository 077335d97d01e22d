"""Everything an RL run is made of, built once from the config: policy, tokenizer, prompts, evaluator, algorithm,
shapes, sampler settings, optimizer and the jitted update (the learner only orders the loop around them).

    s = RLSetup(config, init)     # s.algo, s.spec, s.settings, s.update_fn, s.scorer, s.init_params, ...
"""
import dataclasses
import pathlib
from typing import Callable, Optional, Tuple

import jax
import jax.numpy as jnp

from jaxpt.config import merge, rl_config, validate
from jaxpt.data.formatting import PromptFormat
from jaxpt.data.prompts import prompts_from_experts, tokenize_prompts, with_solutions
from jaxpt.data.tokenizer import load_tokenizer, stop_token_ids, tokenizer_dir
from jaxpt.models.model import Model, param_shardings
from jaxpt.parallel.mesh import sharder_from_config
from jaxpt.parallel.rules import batch_divisor
from jaxpt.rl import step as rl_step
from jaxpt.rl.algorithms import RLAlgo, resolve
from jaxpt.rl.batch import BatchSpec
from jaxpt.rl.rollout import RewardFn, verifier_reward_fn
from jaxpt.sample.settings import SampleSettings, length_bucket
from jaxpt.train.guard import TrainGuard
from jaxpt.train.loss_chunk import resolve_loss_chunk
from jaxpt.train.optimizer import optimizer_for
from jaxpt.train.state import state_shardings


def load_init(init, c, sharder):
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


class RLSetup:
    def __init__(self, config=None, init=None, prompts=None, experts=None, eval_records=None,
                 reward_fn: Optional[RewardFn] = None, eval_fn: Optional[Callable] = None):
        c = validate(merge(rl_config(), config, "RL config"), "rl")
        self.c, r = c, c.rl
        self.eval_fn = eval_fn
        self.workdir = pathlib.Path(c.workdir).absolute()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sharder = sharder_from_config(c.mesh)
        self.algo: RLAlgo = resolve(r)
        self.cfg, params, init_tok = load_init(init, c, self.sharder)
        self._tokenizer(c, init_tok)
        self._data(c, prompts, experts, eval_records)

        # Shapes and settings.
        self.G, self.B_gen = self.algo.group_size, int(r.gen_prompts)
        self.B_train, self.N = int(r.train_prompts or r.gen_prompts), int(r.max_new_tokens)
        if not self.algo.dynamic_sampling and self.B_train > self.B_gen:
            raise ValueError(f"rl.train_prompts={self.B_train} > rl.gen_prompts={self.B_gen} needs dynamic sampling")
        self.div = div = batch_divisor(self.sharder)
        self.gen_streams = int(r.gen_streams)
        if self.gen_streams > 1 and jax.process_count() > 1:
            # Concurrent sampler calls could enter their collectives in a different order on each host.
            raise ValueError(f"rl.gen_streams={self.gen_streams} needs a single process (this job has "
                             f"{jax.process_count()}); use 1")
        self.gen_chunk = int(r.gen_batch_prompts or max(1, self.B_gen // self.gen_streams))
        if self.B_gen % self.gen_chunk or self.gen_chunk % div:
            raise ValueError(f"rl.gen_prompts={self.B_gen} must split into sampler calls of rl.gen_batch_prompts="
                             f"{self.gen_chunk} prompts (0: gen_prompts / rl.gen_streams={self.gen_streams}), each "
                             f"divisible by the mesh batch size {div}")
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
        self.num_mb = int(r.num_minibatches)
        if (self.spec.rows // self.spec.width) % self.num_mb:
            raise ValueError(f"train_prompts={self.B_train} must divide by rl.num_minibatches={self.num_mb}")
        self.mb_rows = self.spec.rows // self.num_mb
        self.micro = int(r.micro_batch_rows or self.mb_rows)
        if self.mb_rows % self.micro or (self.micro % div):
            raise ValueError(f"mini-batch of {self.mb_rows} rows must split into micro-batches of {self.micro} "
                             f"rows, each divisible by the mesh batch size {div}")
        self.num_micro = self.mb_rows // self.micro
        self.updates_per_step = int(r.ppo_epochs) * self.num_mb

        # Optimizer and the jitted update (a new micro-batch shape resolves its own LM-head chunk).
        self.tx, self.schedule = optimizer_for(c, "rl", int(r.total_steps) * self.updates_per_step)
        self.state_sh = state_shardings(self.cfg, self.tx, self.sharder)
        loss_cfg = self.algo.loss
        if loss_cfg.agg_mode == "seq-mean-token-sum" and not loss_cfg.agg_constant:
            loss_cfg = dataclasses.replace(loss_cfg, agg_constant=float(self.N))
        self.loss_cfg = loss_cfg
        self.chunk_multiple = int(r.loss_chunk) if int(r.loss_chunk) > 0 else 1
        # Each distinct prompt through the model once per micro-batch (its KV cache shared by the group's rows):
        # the decoder's cache path has no rematerialisation, so a remat policy keeps the whole-row forward.
        self.share_prompts = self.cfg.remat == "none"
        chunk_for = lambda rows, n: resolve_loss_chunk(r.loss_chunk, rows, n, self.cfg.vocab_size, div)  # noqa
        self.update_fn = rl_step.make_update_fn(self.cfg, loss_cfg, self.tx, self.schedule, self.sharder,
                                                self.train_temp, bool(r.compute_entropy), chunk_for)
        self.logprob_chunk = chunk_for
        self.ref_params = None
        if loss_cfg.kl_coef:
            shard = param_shardings(self.cfg, self.sharder)
            self.ref_params = jax.jit(lambda p: jax.tree.map(jnp.copy, p), out_shardings=shard)(params)
        self.init_params = params
        self.reward_fn = reward_fn or verifier_reward_fn(r.grading, float(r.verifier_timeout_s),
                                                         int(r.verifier_workers))
        self.guard = TrainGuard.from_config(c, "RL")  # the host half of the non-finite guard (jaxpt.train.guard)
        self.rows_sh = self.sharder.sharding(("batch",)) if self.sharder is not None else None
        self.micro_sh = rl_step.batch_sharding(self.sharder, True)

    def evaluate(self, params) -> Tuple[Optional[float], dict]:
        """(score, per-set metrics) on the eval sets (jaxpt.eval.scorer; eval_fn when given); None when there is
        nothing to evaluate."""
        model = Model(self.cfg, params, self.sharder, tokenizer_dir=str(self.tok_dir))
        if self.eval_fn is not None:
            score = self.eval_fn(model)
        elif self.scorer is not None:
            score = self.scorer(model)
        else:
            return None, {}
        if hasattr(score, "overall"):
            details = {f"eval/{name}": v for name, v in score.per.items()}
            details["eval/truncated"] = score.truncated
            return float(score.overall), details
        return float(score), {}

    def _tokenizer(self, c, init_tok) -> None:
        from jaxpt.train.setup import check_tokenizer_fits, uses_toy

        tok_spec = c.tokenizer or init_tok
        if not tok_spec:
            if not uses_toy(c):
                raise ValueError("the initial policy has no tokenizer files: set config.tokenizer")
            tok_spec = "toy"
        self.tok_dir = tokenizer_dir(tok_spec)
        self.tok = load_tokenizer(self.tok_dir)
        check_tokenizer_fits(self.tok, self.cfg, c.tokenizer or "(the model's own)", pretrained=False)
        self.fmt = PromptFormat.from_config(c.prompt)
        self.stops = stop_token_ids(self.tok, self.cfg.eos_token_ids)
        self.eos_ids = tuple(self.stops)
        self.pad_id = int(self.tok.pad_token_id if self.tok.pad_token_id is not None else self.stops[0])

    def _data(self, c, prompts, experts, eval_records) -> None:
        """Prompts: the given records, else the config's data section (jaxpt.data.roles); evaluation: the one
        evaluator (jaxpt.eval.scorer) on the given records or the eval section's sets."""
        from jaxpt.data.drops import Drops
        from jaxpt.data.formatting import unknown_token_report
        from jaxpt.data.roles import eval_sets, expert_records, rl_records
        from jaxpt.data.sources import record_where
        from jaxpt.eval.scorer import Scorer

        where = "the given prompt records"
        self.drops = Drops("data.rl")  # every prompt left out, by reason, with its file:line (metrics: data/rl/*)
        if prompts is None:
            prompts, where = rl_records(c, self.drops)
        if self.algo.needs_experts:
            if experts is None:
                experts = expert_records(c)
            prompts = with_solutions(prompts_from_experts(prompts, experts))
        max_prompt = int(c.data.rl.max_prompt_len)
        self.prompts, _ = tokenize_prompts(prompts, self.tok, self.fmt, max_prompt, self.stops, self.drops)
        self.dropped_prompts = self.drops.total
        self.drops.log(len(self.prompts))
        unknown_token_report(self.tok, self.prompts.prompt_ids, [x["question"] for x in self.prompts.records],
                             "data.rl", lambda i: record_where(self.prompts.records[i]))
        if not len(self.prompts):
            raise ValueError(f"data.rl: no RL prompts left from {where} after dropping {self.dropped_prompts} "
                             f"({', '.join(f'{k}: {n}' for k, n in sorted(self.drops.counts.items())) or 'none'}; "
                             f"data.rl.max_prompt_len={max_prompt})")
        self.prompt_len = max_prompt or length_bucket(max(len(p) for p in self.prompts.prompt_ids))
        sets = {"heldout": list(eval_records)} if eval_records is not None else (
            eval_sets(c) if (c.eval.benchmarks or c.eval.source) else {})
        vt, vw = float(c.rl.verifier_timeout_s) or None, int(c.rl.verifier_workers) or None
        self.scorer = Scorer.from_config(c, self.tok, sets, verify_timeout_s=vt, verify_workers=vw) \
            if sets and any(sets.values()) else None
