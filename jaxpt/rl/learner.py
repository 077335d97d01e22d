"""The RL learner: the order of the loop, and nothing else.

    result = run_rl({"workdir": "/tmp/rl", "rl": {"algorithm": "dapo_dc", "total_steps": 50}},
                    "runs/sft/best_model", on_eval=hook)
    result.history   # [(step, cumulative RL FLOPs, held-out accuracy)]

A step: collect rollouts (jaxpt.rl.rollout: generate, score in a background thread, dynamic sampling), assemble
the training batch (jaxpt.rl.batch), plan the update's micro-batches (jaxpt.rl.microbatch: inert rows left out,
padding trimmed), run ppo_epochs x num_minibatches updates (jaxpt.rl.step), log metrics and FLOPs
(jaxpt.rl.metrics), evaluate (jaxpt.eval.scorer, or eval_fn) and checkpoint. `on_eval(step, metrics) -> bool` runs
after every evaluation; True stops the run after a checkpoint. The set-up is jaxpt.rl.setup.RLSetup.

Randomness is a function of (seed, step, round), the prompt order of (data.shuffle_seed, epoch), and the
checkpoint stores the prompt position, so a resumed run repeats an uninterrupted one exactly.
"""
import concurrent.futures
import dataclasses
import logging
import pathlib
import time
from typing import Callable, List, Optional, Tuple

import jax
import numpy as np

from jaxpt.analysis import flops as flops_lib
from jaxpt.config import merge, rl_config, validate
from jaxpt.data.prompts import PromptIterator
from jaxpt.models.config import ModelConfig
from jaxpt.rl.batch import assemble
from jaxpt.rl.losses import inert_rows
from jaxpt.rl.metrics import step_flops, step_metrics, write_samples
from jaxpt.rl.microbatch import plan_updates
from jaxpt.rl.rollout import Rollout, RewardFn
from jaxpt.rl.setup import RLSetup
from jaxpt.rl.transfer import to_device, to_host
from jaxpt.train.checkpointing import TrainCheckpointer, export_model, with_shardings
from jaxpt.train.state import abstract_state, make_init_fn
from jaxpt.utils.metrics import JsonlLog, MetricsWriter, trim_jsonl
from jaxpt.utils.workdir_lock import WorkdirLock

OnEval = Callable[[int, dict], bool]


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


class Learner:
    def __init__(self, config=None, init=None, prompts=None, experts=None, eval_records=None,
                 on_eval: Optional[OnEval] = None, reward_fn: Optional[RewardFn] = None,
                 eval_fn: Optional[Callable] = None):
        self.s = RLSetup(config, init, prompts, experts, eval_records, reward_fn, eval_fn)
        self.rollout = Rollout(self.s)
        self.on_eval = on_eval
        self.is_main = jax.process_index() == 0

    # ------------------------------------------------------------------------------------------ the update
    def update(self, state, batch: dict, step: int):
        """ppo_epochs x num_minibatches updates on the step's batch. Returns (state, fetched per-update metrics,
        plan, extra); the batch crosses to the device once, the metrics come back once."""
        s = self.s
        batch.setdefault("ref_logp", np.zeros_like(batch["old_logp"]))
        inert = inert_rows(batch["mask"], batch["adv"], batch["sft"], s.loss_cfg)
        plan = plan_updates(batch, inert, width=s.spec.width, num_minibatches=s.num_mb,
                            ppo_epochs=int(s.c.rl.ppo_epochs), micro_rows=s.micro,
                            rng=np.random.default_rng([int(s.c.seed), step, 991]), prompt_len=s.prompt_len,
                            pad_id=s.pad_id, row_multiple=s.div, chunk_multiple=s.chunk_multiple,
                            share_prompts=s.share_prompts)
        if not plan.minibatches:
            return state, [], plan, {}
        sh = None if s.sharder is None else (s.micro_sh, s.sharder.sharding(()))
        data, norms = to_device(([mb.groups for mb in plan.minibatches], [mb.norm for mb in plan.minibatches]), sh)
        recompute = s.behaviour == "recompute"
        gaps = []
        if recompute or s.ref_params is not None:  # from the parameters before the first update, on device
            for groups in data:
                for i, g in enumerate(groups):
                    groups[i], gap = s.update_fn.behaviour(state["params"], s.ref_params, g, recompute)
                    gaps.append(gap)
        results = []
        for groups, norm in zip(data, norms):
            state, m = s.update_fn(state, groups, norm)
            results.append(m)
        results, gaps = to_host((results, gaps))
        for m in results:  # "stop": NonFiniteError naming the step; "skip": that update left the state as it was
            s.guard.check(step + 1, m)
        extra = {}
        if recompute:
            extra["recompute_gap"] = float(sum(g[0] for g in gaps) / max(sum(g[1] for g in gaps), 1.0))
        return state, results, plan, extra

    # ------------------------------------------------------------------------------------------ the loop
    def _start(self, ckpt, it):
        """(state, progress): restored from the latest checkpoint, or fresh."""
        s, latest = self.s, ckpt.latest_step()
        if latest is not None and not s.c.checkpoint.resume:
            raise ValueError(f"{s.workdir}/checkpoints already holds step {latest}: set checkpoint.resume=True "
                             "to continue it, or use a fresh workdir")
        # The newest checkpoint that restores with a finite state (a damaged newer one is set aside).
        abstract = with_shardings(abstract_state(s.cfg, s.tx), s.state_sh)
        found = ckpt.restore_latest(abstract) if latest is not None else None
        latest = found[0] if found is not None else -1
        if self.is_main:  # the logs end where the state does (a fresh run: rows of an unfinished one go)
            for name in ("metrics.jsonl", "samples.jsonl"):
                trim_jsonl(s.workdir / name, latest)
        if found is None:
            state, s.init_params = make_init_fn(s.tx, s.state_sh)(s.init_params), None
            return state, {"step": 0, "rl_flops": 0.0, "history": [], "gen_rounds": 0, "samples": 0}
        _, state, meta = found
        it.load_state_dict(meta["prompts"])
        s.init_params = None
        s.guard.load_state_dict(meta["progress"].get("guard"))
        logging.info("resumed RL from %s step %d", ckpt.directory, latest)
        return state, meta["progress"]

    def run(self) -> RLResult:
        s, c, r = self.s, self.s.c, self.s.c.rl
        ckpt = TrainCheckpointer(s.workdir / "checkpoints", int(c.checkpoint.max_to_keep))
        it = PromptIterator(len(s.prompts), seed=int(c.data.rl.shuffle_seed))
        state, progress = self._start(ckpt, it)
        if self.is_main:
            (s.workdir / "config.json").write_text(c.to_json_best_effort(indent=2))
        writer = MetricsWriter(s.workdir, tensorboard=bool(c.log.tensorboard), enabled=self.is_main)
        samples_f = JsonlLog(s.workdir / "samples.jsonl") if (self.is_main and int(c.log.samples)) else None
        step = start = int(progress["step"])
        total, stop_at, every = int(r.total_steps), int(r.stop_at_step or 0), int(r.eval_every)
        if start == 0:
            writer.write(0, {**s.drops.metrics("data/rl"), **s.guard.metrics(),
                             "data/prompts": len(s.prompts), "data/dropped_prompts": s.dropped_prompts,
                             "data/prompt_len": s.prompt_len,
                             "data/eval_records": len(s.scorer.records) if s.scorer is not None else 0,
                             "flops/forward_per_token": flops_lib.forward_flops_per_token(s.cfg, s.prompt_len)})
        step_rows: List[dict] = []

        def do_eval(step: int) -> bool:
            t0 = time.perf_counter()
            acc, details = s.evaluate(state["params"])
            if acc is None:
                return False
            flops = float(progress["rl_flops"])
            progress["history"].append((step, flops, acc))
            per = {k[len("eval/"):]: v for k, v in details.items() if k != "eval/truncated"}
            progress.setdefault("evals", []).append({"step": step, "rl_flops": flops, "overall": acc, "per": per})
            m = {"eval/accuracy": acc, "eval/seconds": time.perf_counter() - t0, "flops/rl_cumulative": flops,
                 **details}
            writer.write(step, m)
            logging.info("RL step %d: held-out accuracy %.4f (%.3g RL FLOPs)", step, acc, flops)
            if self.on_eval is None:
                return False
            return bool(self.on_eval(step, {"step": step, "rl_flops": flops, "accuracy": acc, **m}))

        stopped = do_eval(0) if (start == 0 and r.eval_at_start and every > 0) else False
        bar = None
        if c.log.progress and self.is_main:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=start, desc=f"rl[{s.algo.name}]", dynamic_ncols=True)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rl-score")
        try:
            while not stopped and step < total and not (stop_at and step >= stop_at):
                t_step = time.perf_counter()
                col = self.rollout.collect(state["params"], step, it, pool)
                t_upd = time.perf_counter()
                batch, binfo = assemble(s.spec, col["rounds"], col["kept"], s.prompts.expert_ids)
                state, ms, plan, extra = self.update(state, batch, step)
                t_end = time.perf_counter()
                step += 1
                f, finfo = step_flops(s.cfg, s.algo, s.B_gen, s.G, col, binfo, batch)
                progress["rl_flops"] = float(progress["rl_flops"]) + f
                progress["step"] = step
                progress["gen_rounds"] = int(progress["gen_rounds"]) + len(col["rounds"])
                metrics = step_metrics(s, col, binfo, batch, plan, ms, extra, f, finfo, progress["rl_flops"],
                                       {"step_s": t_end - t_step, "update_s": t_end - t_upd})
                metrics.update(s.guard.metrics())
                writer.write(step, metrics)
                step_rows.append({"step": step, **metrics})
                if samples_f is not None:
                    write_samples(samples_f, step, col, s.prompts, s.tok, s.G, int(c.log.samples))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(acc=f"{metrics['rollout/accuracy']:.3f}", kept=f"{metrics['ds/kept_groups']:.0f}",
                                    rounds=metrics["ds/rounds"], s=f"{metrics['perf/step_s']:.2f}")
                if every > 0 and (step % every == 0 or (step == total and r.eval_at_end)):
                    stopped = do_eval(step)
                ck_every = int(r.checkpoint_every)
                if (ck_every and step % ck_every == 0) or step == total or stopped or step == stop_at:
                    writer.flush()  # every row up to this step is on disk before the checkpoint covering it
                    if samples_f is not None:
                        samples_f.flush()
                    progress["guard"] = s.guard.state_dict()
                    ckpt.save(step, state, {"prompts": it.state_dict(), "progress": progress})
        finally:
            pool.shutdown(wait=True)
            for closable in (bar, samples_f):
                if closable is not None:
                    closable.close()
        ckpt.close()
        writer.close()
        final_dir = None
        if r.export_final and step >= total:
            final_dir = str(export_model(state["params"], s.cfg, s.workdir / "final_model", str(s.tok_dir),
                                         s.sharder, {"step": step, "rl_flops": progress["rl_flops"],
                                                     "history": progress["history"]}, info_name="rl_final.json"))
        return RLResult(workdir=str(s.workdir), history=[tuple(h) for h in progress["history"]], final_step=step,
                        rl_flops=float(progress["rl_flops"]), stopped_by_hook=stopped, final_model_dir=final_dir,
                        checkpoint_dir=str(ckpt.directory), step_metrics=step_rows,
                        evals=list(progress.get("evals", [])), model_config=s.cfg, tokenizer_dir=str(s.tok_dir),
                        state=state)


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
    reward_fn(texts, golds[, truncated]) -> (correct bool array, stats): replaces the verifier.
    eval_fn(model) -> accuracy (or a jaxpt.eval.scorer.Score): replaces the built-in evaluation.
    """
    c = validate(merge(rl_config(), config, "RL config"), "rl")
    workdir = pathlib.Path(c.workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    # One run per work directory: a second one fails at once naming the holder (a dead holder's lock is taken).
    lock = WorkdirLock(workdir, "an RL run").acquire() if jax.process_index() == 0 else None
    try:
        return Learner(c, init, prompts, experts, eval_records, on_eval, reward_fn, eval_fn).run()
    finally:
        if lock is not None:
            lock.release()
