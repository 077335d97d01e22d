"""The SFT loop: data, model, jitted step, validation loss with tokens and FLOPs, checkpoints, resume.

    result = run_sft({"workdir": "/tmp/run", "sft": {"total_steps": 300}}, on_eval=my_hook)
    result.history      # [(step, tokens_seen, cumulative_sft_flops, val_loss)]
    result.best_step, result.best_model_dir   # best_model_dir loads with jaxpt.models.checkpoint.load_model

`on_eval(step, metrics) -> bool` is called after every validation; returning True stops the run (a
checkpoint is saved first). This is the hook the SFT->RL scheduler decides from. With sft.score_every = k,
every k-th validation also generates and grades the eval problems (jaxpt.eval.scorer) and the metrics carry
the score ("score", "score/<set>").

Faults: the work directory is locked for the run (jaxpt.utils.workdir_lock); a non-finite loss or gradient
norm stops the run or skips the update (jaxpt.train.guard, config section `guard`), and a non-finite state is
never saved or exported; every metrics row up to a checkpoint is on disk when it is saved, and a resume trims
the log back to it; a resume falls back past an unreadable newest checkpoint.

FLOPs follow the paper (appendix E): a step on B sequences costs 3 B S F_fwd(S), with S the mean
prompt+response length of the training set and B the number of sequences the step actually trained on
(packing makes B vary from step to step).
"""
import dataclasses
import json
import logging
import math
import pathlib
import time
from typing import Callable, List, Optional, Tuple

import jax
import numpy as np

from jaxpt.analysis.flops import sft_step_flops
from jaxpt.config import merge, sft_config, validate
from jaxpt.data.iterator import BatchIterator
from jaxpt.data.packing import fixed_batches
from jaxpt.data.sft_data import build_sft_data
from jaxpt.models.config import ModelConfig
from jaxpt.models.model import Model
from jaxpt.parallel.mesh import sharder_from_config
from jaxpt.parallel.rules import batch_divisor
from jaxpt.train import sft_step
from jaxpt.train.checkpointing import TrainCheckpointer, export_model, with_shardings
from jaxpt.train.guard import NonFiniteError, TrainGuard, guarded_update
from jaxpt.train.loss_chunk import resolve_loss_chunk
from jaxpt.train.optimizer import optimizer_for
from jaxpt.train.setup import initial_params, load_stage_tokenizer, resolve_model_config
from jaxpt.utils.metrics import MetricsWriter, trim_jsonl
from jaxpt.utils.workdir_lock import WorkdirLock

OnEval = Callable[[int, dict], bool]


@dataclasses.dataclass
class SFTResult:
    workdir: str
    history: List[Tuple[int, int, float, float]]  # (step, tokens seen, cumulative SFT FLOPs, val loss)
    best_step: Optional[int]
    best_val_loss: float
    best_model_dir: Optional[str]
    checkpoint_dir: str
    checkpoint_steps: List[int]
    final_step: int
    stopped_by_hook: bool
    train_losses: List[Tuple[int, float]]
    data_stats: dict
    model_config: ModelConfig
    tokenizer_dir: str
    state: dict = dataclasses.field(default=None, repr=False)  # final train state (params, opt_state, step)
    scores: dict = dataclasses.field(default_factory=dict)  # step -> {"overall", "per"} (sft.score_every)


# ----------------------------------------------------------------------------------------------- helpers
def _to_device(batch: dict, sharding):
    if sharding is None:
        return jax.device_put(batch)
    # Works in multi-process runs too: every process builds the same global batch, each keeps its shards.
    return {k: jax.make_array_from_callback(v.shape, sharding, lambda idx, v=v: v[idx]) for k, v in batch.items()}


def _micro(batch: dict, accum: int) -> dict:
    return {k: v.reshape((accum, v.shape[0] // accum) + v.shape[1:]) for k, v in batch.items()}


def _write_examples(path: pathlib.Path, examples, tokenizer) -> None:
    """The first training examples as the model sees them (special tokens kept), with the part that carries the
    loss: the quickest check of a new model's chat template and the prompt format."""
    rows = [{"prompt": tokenizer.decode(ids[~mask].tolist()), "response": tokenizer.decode(ids[mask].tolist()),
             "prompt_ids": ids[~mask].tolist()[:64]} for ids, mask in examples]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# ----------------------------------------------------------------------------------------------- loop
def run_sft(config=None, on_eval: Optional[OnEval] = None, records: Optional[tuple] = None,
            score_fn: Optional[Callable] = None, on_resume: Optional[Callable[[list], bool]] = None) -> SFTResult:
    """Runs (or resumes) SFT. `config`: a partial dict/ConfigDict over jaxpt.config.sft_config().
    `records`: optional (train, val) lists of {question, solution, answer} instead of the config's data.
    `score_fn(model) -> jaxpt.eval.scorer.Score`: the scorer of sft.score_every (default: the eval section's).
    `on_resume(history) -> bool`: on resume, gets the evaluations made before the interruption (what on_eval
    saw then); True means the hook had stopped the run there, so training does not continue."""
    c = validate(merge(sft_config(), config, "SFT config"), "sft")
    workdir = pathlib.Path(c.workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    # Before anything is written there: a second run on this directory fails here, naming this one.
    lock = WorkdirLock(workdir, "an SFT run").acquire() if jax.process_index() == 0 else None
    try:
        ckpt = TrainCheckpointer(workdir / "checkpoints", int(c.checkpoint.max_to_keep))
        try:
            return _run(c, workdir, ckpt, on_eval, records, score_fn, on_resume)
        finally:
            ckpt.close()  # waits for an in-flight save, also when the run fails: the last checkpoint is kept
    finally:
        if lock is not None:
            lock.release()


def _run(c, workdir: pathlib.Path, ckpt: TrainCheckpointer, on_eval, records, score_fn, on_resume) -> SFTResult:
    s = c.sft
    is_main = jax.process_index() == 0
    sharder = sharder_from_config(c.mesh)
    latest = ckpt.latest_step()
    if latest is not None and not c.checkpoint.resume:
        raise ValueError(f"{workdir}/checkpoints already holds step {latest}: set checkpoint.resume=True to "
                         "continue it, or use a fresh workdir")

    tok_dir, tok = load_stage_tokenizer(c)
    cfg = resolve_model_config(c, tok)
    data = build_sft_data(c, tok, extra_stop_ids=cfg.eos_token_ids, records=records)
    mean_len = data.mean_length
    if s.score_every and score_fn is None:
        from jaxpt.eval.scorer import Scorer

        score_fn = Scorer.from_config(c, tok)

    rows, accum = int(s.batch_rows), int(s.grad_accum)
    seq_len = int(c.data.sft.seq_len or c.data.sft.max_len)
    eval_rows = int(s.eval_batch_rows or rows // accum)
    if sharder is not None:
        from jaxpt.parallel.rules import axis_size

        n = axis_size(sharder.mesh, dict(sharder.rules).get("batch"))
        for name, r in (("sft.batch_rows / sft.grad_accum", rows // accum), ("sft.eval_batch_rows", eval_rows)):
            if r % n:
                raise ValueError(f"{name} = {r} rows must divide over the mesh's {n} batch shards")
    it = BatchIterator(data.train, rows, seq_len, seed=int(c.data.sft.shuffle_seed), pack=bool(c.data.sft.pack))
    val_batches = fixed_batches(data.val, eval_rows, seq_len, bool(c.data.sft.pack))

    tx, schedule = optimizer_for(c, "sft", int(s.total_steps))
    st_sh = sft_step.state_shardings(cfg, tx, sharder)
    shards = batch_divisor(sharder)
    train_chunk = resolve_loss_chunk(s.loss_chunk, rows // accum, seq_len, cfg.vocab_size, shards)
    eval_chunk = resolve_loss_chunk(s.loss_chunk, eval_rows, seq_len, cfg.vocab_size, shards)
    # A non-finite update is never applied (in-graph); the guard decides on the host whether the run goes on.
    train_step = guarded_update(sft_step.make_train_step(cfg, tx, schedule, sharder, train_chunk))
    guard = TrainGuard.from_config(c, "SFT")
    eval_step = sft_step.make_eval_step(cfg, sharder, eval_chunk)
    train_sh = sft_step.batch_sharding(sharder, micro=True)
    eval_sh = sft_step.batch_sharding(sharder, micro=False)
    val_device = [_to_device(b, eval_sh) for b in val_batches]

    progress = {"step": 0, "tokens": 0, "loss_tokens": 0, "sequences": 0, "flops": 0.0, "history": [],
                "best_step": None, "best_val_loss": float("inf"), "train_losses": [], "scores": {}}
    found = ckpt.restore_latest(with_shardings(sft_step.abstract_state(cfg, tx), st_sh)) if latest is not None \
        else None
    if found is not None:
        latest, state, meta = found
        it.load_state_dict(meta["data"])
        progress = {"scores": {}, **meta["progress"]}
        guard.load_state_dict(progress.get("guard"))
        if is_main:  # rows after the checkpoint are redone: drop them
            trim_jsonl(workdir / "metrics.jsonl", latest)
        logging.info("resumed from %s step %d", ckpt.directory, latest)
    else:
        latest = None
        # Rows of an earlier attempt that died before its first checkpoint: nothing continues them.
        if is_main and trim_jsonl(workdir / "metrics.jsonl", -1):
            logging.warning("%s: removed the metrics rows of an earlier attempt that left no checkpoint", workdir)
        state = sft_step.make_init_fn(tx, st_sh)(initial_params(c, cfg, sharder, int(c.seed)))
    start = int(progress["step"])
    if is_main:
        (workdir / "config.json").write_text(c.to_json_best_effort(indent=2))

    writer = MetricsWriter(workdir, tensorboard=bool(c.log.tensorboard), enabled=is_main)
    if is_main:
        _write_examples(workdir / "examples.jsonl", data.train[:3], tok)
    if start == 0:
        writer.write(0, {**{f"data/{k}": v for k, v in data.stats.items()}, **guard.metrics(),
                         "model/params": sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"])),
                         "flops/per_sequence": sft_step_flops(cfg, 1, mean_len)})
    evals_done = [len(progress["history"])]

    def evaluate(step: int) -> bool:
        """Validation loss, best-model export, the score (every score_every-th validation) and the hook;
        returns True when the hook asks to stop."""
        sums = [eval_step(state["params"], b) for b in val_device]
        nll = float(sum(float(v) for v, _ in sums))
        cnt = float(sum(float(n) for _, n in sums))
        val_loss = nll / max(cnt, 1.0)
        if not math.isfinite(val_loss):  # the parameters themselves are not finite: no update can be skipped
            raise NonFiniteError(f"SFT step {step}: non-finite val/loss = {val_loss}: the parameters at this step "
                                 "are not finite (e.g. an Adam update with optim.eps=0 divided 0 by 0, or the "
                                 "initial weights hold NaN). Nothing non-finite was saved: fix the cause and "
                                 "resume from the last checkpoint")
        progress["history"].append((step, int(progress["tokens"]), float(progress["flops"]), val_loss))
        improved = val_loss < progress["best_val_loss"]
        if improved:
            progress["best_step"], progress["best_val_loss"] = step, val_loss
        # Stored beside exported models: RL/eval must prompt exactly as SFT did (same system prompt etc.).
        info = {"step": step, "val_loss": val_loss, "tokens": int(progress["tokens"]),
                "flops": float(progress["flops"]), "epoch": it.epoch + it.index / len(data.train),
                "prompt_format": dataclasses.asdict(data.prompt_format), "sft_workdir": str(workdir)}
        if improved and s.export_best:
            export_model(state["params"], cfg, workdir / "best_model", str(tok_dir), sharder, info)
        if s.export_every_eval:
            export_model(state["params"], cfg, workdir / "models" / f"step_{step}", str(tok_dir), sharder, info)
        recent = [loss for _, loss in progress["train_losses"][-max(1, int(c.log.every)):]]
        metrics = {"val/loss": val_loss, "val/tokens": cnt, "tokens": int(progress["tokens"]),
                   "flops": float(progress["flops"]), "epoch": info["epoch"],
                   "val/best_loss": progress["best_val_loss"], "val/best_step": progress["best_step"],
                   "train/loss_recent": float(np.mean(recent)) if recent else float("nan")}
        evals_done[0] += 1
        score = None
        # The base model (step 0) is not SFT's to score; every score_every-th validation after it is.
        if score_fn is not None and s.score_every and step > 0 and (evals_done[0] - 1) % int(s.score_every) == 0:
            score = score_fn(Model(cfg, state["params"], sharder, tokenizer_dir=str(tok_dir)))
            progress["scores"][str(step)] = {"overall": score.overall, "per": score.per}
            metrics.update(score.as_metrics("score"))
        writer.write(step, metrics)
        line = (f"step {step}: val loss {val_loss:.4f} (best {progress['best_val_loss']:.4f} at step "
                f"{progress['best_step']}), {progress['tokens']} tokens, {progress['flops']:.3g} FLOPs, "
                f"epoch {info['epoch']:.1f}" + (f", score {score.overall:.4f}" if score is not None else ""))
        logging.info(line)
        if is_main and c.log.print_evals:
            (bar.write if bar is not None else print)(line)
        hook_metrics = dict(metrics, step=step)
        if score is not None:
            hook_metrics["score"] = score
        return bool(on_eval(step, hook_metrics)) if on_eval is not None else False

    def save(step: int) -> None:
        writer.flush()  # every row up to this step is on disk before the checkpoint that covers it
        progress["guard"] = guard.state_dict()
        ckpt.save(step, state, {"data": it.state_dict(), "progress": progress})

    total, stop_at = int(s.total_steps), int(s.stop_at_step or 0)
    eval_every, ckpt_every, log_every = int(s.eval_every), int(s.checkpoint_every), int(c.log.every)
    bar = None
    if c.log.progress and is_main:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, desc="sft", dynamic_ncols=True)
    stopped = False
    if latest is not None and on_resume is not None:
        stopped = bool(on_resume([tuple(h) for h in progress["history"]]))
    if start == 0 and s.eval_at_start and eval_every:
        stopped = evaluate(0)
    pending, window_t0, window_tokens = [], time.perf_counter(), 0
    step = start
    while not stopped and step < total and not (stop_at and step >= stop_at):
        batch_np, info = it.next_batch()
        state, m = train_step(state, _to_device(_micro(batch_np, accum), train_sh))
        step += 1
        step_flops = sft_step_flops(cfg, info["sequences"], mean_len)
        progress.update(step=step, tokens=progress["tokens"] + info["tokens"],
                        loss_tokens=progress["loss_tokens"] + info["loss_tokens"],
                        sequences=progress["sequences"] + info["sequences"], flops=progress["flops"] + step_flops)
        pending.append((step, m, info))
        window_tokens += info["tokens"]
        is_eval = bool(eval_every) and (step % eval_every == 0 or step == total)
        last = step == total or step == stop_at
        is_ckpt = bool(ckpt_every) and step % ckpt_every == 0
        # The window is fetched (rows written, the guard consulted) before every validation and checkpoint.
        if (log_every and len(pending) >= log_every) or is_eval or last or is_ckpt:
            fetched = jax.device_get([p[1] for p in pending])  # one host sync per logging window
            elapsed = time.perf_counter() - window_t0
            tps = window_tokens / max(elapsed, 1e-9)
            for (st, _, inf), mm in zip(pending, fetched):
                progress["train_losses"].append((st, float(mm["loss"])))
                failure = None
                try:
                    guard.check(st, mm)
                except NonFiniteError as e:
                    failure = e
                writer.write(st, {"train/loss": mm["loss"], "train/grad_norm": mm["grad_norm"],
                                  "train/lr": mm["lr"], "train/sequences": inf["sequences"],
                                  "train/tokens": inf["tokens"], "train/loss_tokens": mm["loss_tokens"],
                                  "train/epoch": inf["epoch"], "perf/tokens_per_s": tps, **guard.metrics()})
                if failure is not None:  # raised once the failing step's row is in the log
                    raise failure
            if bar is not None:
                bar.update(len(pending))
                bar.set_postfix(loss=f"{float(fetched[-1]['loss']):.4f}", tok_s=f"{tps:.0f}")
            pending, window_t0, window_tokens = [], time.perf_counter(), 0
        if is_eval:
            stopped = evaluate(step)
        if is_ckpt or last or stopped:
            save(step)
    if bar is not None:
        bar.close()
    ckpt.wait()
    writer.close()
    best_dir = workdir / "best_model"
    return SFTResult(
        workdir=str(workdir), history=[tuple(h) for h in progress["history"]], best_step=progress["best_step"],
        best_val_loss=progress["best_val_loss"], best_model_dir=str(best_dir) if best_dir.is_dir() else None,
        checkpoint_dir=str(ckpt.directory), checkpoint_steps=ckpt.all_steps(), final_step=step,
        stopped_by_hook=stopped, train_losses=[tuple(x) for x in progress["train_losses"]],
        data_stats=data.stats, model_config=cfg, tokenizer_dir=str(tok_dir), state=state,
        scores={int(k): v for k, v in progress["scores"].items()})


def load_train_checkpoint_params(workdir, step: Optional[int] = None, config=None):
    """Parameters of a train checkpoint (latest by default) as a Model, e.g. to branch RL from any step."""
    c = merge(sft_config(), config if config is not None else
              json.loads((pathlib.Path(workdir) / "config.json").read_text()), "SFT config")
    tok_dir, tok = load_stage_tokenizer(c)
    cfg = resolve_model_config(c, tok)
    tx, _ = optimizer_for(c, "sft", int(c.sft.total_steps))
    ckpt = TrainCheckpointer(pathlib.Path(workdir) / "checkpoints")
    step = ckpt.latest_step() if step is None else step
    state, _ = ckpt.restore(step, with_shardings(sft_step.abstract_state(cfg, tx), None))
    ckpt.close()
    return Model(cfg, state["params"], tokenizer_dir=str(tok_dir))
