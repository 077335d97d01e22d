"""The pure RL update (no I/O): response logprobs / entropy of the trainer, micro-batch gradients, the optimizer step.

A batch row is [left-padded prompt (Lp) | response (N)]: tokens/attn [B, Lp+N]; the logits at positions
Lp-1 .. Lp+N-2 score response tokens 0 .. N-1 (only those positions go through the LM head). An update is
    grads, loss, sums = grads_fn(params, micro-batches [A, rows, ...], norm)   (once per shape group)
    state, metrics = apply_fn(state, grads, loss, sums)                        (once)
Per-token losses are aggregated with the *mini-batch's* normalisers `norm` ({"tokens", "rows"}, counted on the
host over every row of the mini-batch, including rows the update leaves out because they contribute exactly
zero), so the summed gradients equal the ones of the whole mini-batch at once. Micro-batches of one shape are
accumulated by jaxpt.train.grad_accum (shared with SFT); groups of different shapes (length buckets) add up.
State = {"params", "opt_state", "step"} (jaxpt.train.state); apply_fn donates it, so the update runs in place.
"""
import functools
from typing import Optional

import jax
import jax.numpy as jnp
import optax

from jaxpt.models import decoder
from jaxpt.models.config import ModelConfig
from jaxpt.models.model import param_shardings
from jaxpt.parallel.rules import Sharder
from jaxpt.rl.losses import LossConfig, normalizers, policy_loss
from jaxpt.train.grad_accum import accumulate
from jaxpt.train.guard import guarded_update
from jaxpt.train.loss import token_logprobs
from jaxpt.train.state import state_shardings

# Per-token and per-row arrays of a training batch (besides tokens/attn).
TOKEN_KEYS = ("mask", "old_logp", "ref_logp")
ROW_KEYS = ("adv", "reward", "correct", "off", "sft")
BATCH_KEYS = ("tokens", "attn") + TOKEN_KEYS + ROW_KEYS


def _shared_prompt_hidden(params, cfg: ModelConfig, tokens, attn, num_response: int, prompt_rows, prompt_of,
                          sharder=None):
    """Hidden states [B, N, H] that score the response tokens, with each distinct prompt computed once.

    The rows of a group share their prompt; recomputing it for each of G rows is most of the prompt's share of
    the work (a third of the tokens of a 64 + 128 row). prompt_rows [P]: one row holding each distinct prompt;
    prompt_of [B]: the index (into prompt_rows) of each row's prompt. The prompts go through the model once,
    returning their keys and values; each row's responses attend them as a prefix (decoder.hidden_states'
    prefix: the blocked causal attention, no cache buffer): the same attention (causal, real keys only) and
    positions as the whole row through the model at once; autodiff sums the prompt's gradients.
    """
    lp = tokens.shape[1] - num_response
    pt, pa = tokens[prompt_rows, :lp], attn[prompt_rows, :lp]
    hp, kv = decoder.hidden_states(params, cfg, pt, decoder.default_positions(pa), pa, sharder=sharder,
                                   return_kv=True)
    axis = 1 if cfg.scan_layers else 0
    per_row = lambda x: jnp.take(x, prompt_of, axis=axis)  # noqa: E731
    prefix = {"k": jax.tree.map(per_row, kv["k"]), "v": jax.tree.map(per_row, kv["v"]),
              "mask": jnp.take(kv["mask"], prompt_of, axis=0)}
    rt, ra = tokens[:, lp:], attn[:, lp:]
    positions = jnp.take(pa.sum(1), prompt_of)[:, None] + jnp.arange(num_response, dtype=jnp.int32)[None, :]
    hr, _ = decoder.hidden_states(params, cfg, rt, positions, ra, sharder=sharder, prefix=prefix)
    # Response token 0 is scored at the prompt's last position, token j > 0 at response position j - 1.
    return jnp.concatenate([jnp.take(hp[:, -1:], prompt_of, axis=0), hr[:, :-1]], axis=1)


def response_logprobs(params, cfg: ModelConfig, tokens, attn, num_response: int, temperature: float = 1.0,
                      sharder: Optional[Sharder] = None, with_entropy: bool = True, chunk: int = 0,
                      prompt_rows=None, prompt_of=None):
    """(logp [B, N], entropy [B, N]) of the response tokens (last N columns) under logits / temperature.
    With prompt_rows / prompt_of, each distinct prompt goes through the model once (_shared_prompt_hidden)."""
    attn = attn.astype(jnp.int32)
    total = tokens.shape[1]
    start = total - num_response
    targets = tokens[:, start:]
    if prompt_rows is not None:
        h = _shared_prompt_hidden(params, cfg, tokens, attn, num_response, prompt_rows, prompt_of, sharder)
    else:
        positions = decoder.default_positions(attn)
        h, _ = decoder.hidden_states(params, cfg, tokens, positions, attn, sharder=sharder)
        h = h[:, start - 1:total - 1]
    if chunk and chunk < num_response and num_response % chunk:
        raise ValueError(f"max_new_tokens={num_response} is not a multiple of loss_chunk={chunk}")
    # The LM head and the log-softmax under the hand-written VJP the SFT loss uses (jaxpt.train.loss).
    return token_logprobs(params, cfg, h, targets, inv_temperature=1.0 / float(temperature),
                          with_entropy=with_entropy, chunk=chunk, sharder=sharder)


def logprob_step(params, tokens, attn, *, cfg: ModelConfig, num_response: int, temperature: float,
                 sharder=None, chunk: int = 0, prompt_rows=None, prompt_of=None):
    """Logprobs (no entropy) for old-logprob recomputation and the frozen reference."""
    return response_logprobs(params, cfg, tokens, attn, num_response, temperature, sharder,
                             with_entropy=False, chunk=chunk, prompt_rows=prompt_rows, prompt_of=prompt_of)[0]


def _flat(group: dict):
    """[A, rows, ...] micro-batches as one [A * rows, ...] batch: (tokens, attn, prompt_rows, prompt_of) with the
    prompt indices offset per micro-batch (None without shared prompts)."""
    a, rows = group["tokens"].shape[:2]
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    if "prompt_rows" not in group:
        return flat(group["tokens"]), flat(group["attn"]), None, None
    p = group["prompt_rows"].shape[1]
    offset = jnp.arange(a, dtype=jnp.int32)[:, None]
    return (flat(group["tokens"]), flat(group["attn"]), flat(group["prompt_rows"] + offset * rows),
            flat(group["prompt_of"] + offset * p))


def behaviour_logprobs(params, ref_params, group: dict, *, recompute: bool, cfg: ModelConfig, temperature: float,
                       sharder=None, chunk: int = 0):
    """The group with old_logp recomputed by the trainer (recompute) and ref_logp of the frozen reference
    (ref_params not None), on device. Returns (group, (sum of |recomputed - sampler logprob| over on-policy loss
    tokens, their count)). Expert / SFT rows have no behaviour logprob (0)."""
    a, rows = group["tokens"].shape[:2]
    n = group["mask"].shape[-1]
    toks, attn, p_rows, p_of = _flat(group)
    logp = lambda p: logprob_step(p, toks, attn, cfg=cfg, num_response=n, temperature=temperature,  # noqa: E731
                                  sharder=sharder, chunk=chunk, prompt_rows=p_rows,
                                  prompt_of=p_of).reshape(a, rows, n)
    out, zero = dict(group), jnp.zeros((), jnp.float32)
    gap = (zero, zero)
    if recompute:
        old, mask = logp(params), group["mask"]
        not_on = (group["off"] + group["sft"])[..., None] > 0
        on = mask * (1.0 - not_on)
        gap = (jnp.sum(jnp.abs(old - group["old_logp"]) * on), jnp.sum(on))
        out["old_logp"] = jnp.where(not_on | (mask <= 0), 0.0, old).astype(jnp.float32)
    if ref_params is not None:
        out["ref_logp"] = logp(ref_params)
    return out, gap


def grads_step(params, batch: dict, norm: Optional[dict] = None, *, cfg: ModelConfig, loss_cfg: LossConfig,
               temperature: float = 1.0, sharder=None, with_entropy: bool = True, chunk: int = 0):
    """Summed float32 gradients, loss and metric sums over micro-batches [A, rows, ...] of one shape.

    norm: the mini-batch's {"tokens", "rows"} normalisers; None = those of this batch (all of the mini-batch).
    """
    num_response = batch["mask"].shape[-1]
    if norm is None:
        norm = normalizers(batch["mask"].reshape(-1, num_response))
    need_entropy = with_entropy or loss_cfg.entropy_coef != 0.0 or loss_cfg.name == "srft"

    def loss_fn(p, mb):
        logp, ent = response_logprobs(p, cfg, mb["tokens"], mb["attn"], num_response, temperature, sharder,
                                      with_entropy=need_entropy, chunk=chunk, prompt_rows=mb.get("prompt_rows"),
                                      prompt_of=mb.get("prompt_of"))
        b = {k: mb[k] for k in TOKEN_KEYS + ROW_KEYS if k in mb}
        b.update(logp=logp, entropy=ent)
        return policy_loss(b, loss_cfg, norm)

    def grad_fn(p, mb):
        (loss, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, mb)
        return grads, (loss, sums)

    grads, (loss, sums) = accumulate(grad_fn, params, batch)
    return grads, loss, sums


def apply_step(state: dict, grads, loss, sums: dict, *, tx, schedule):
    """One optimizer update from summed gradients. Returns (state, metrics): loss, pg_loss, grad_norm, lr, and
    token means (clip_frac, entropy, kl, logprob_gap, approx_kl, ...) over the loss tokens of the rows trained
    (gap and approx_kl over on-policy tokens)."""
    params = state["params"]
    grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
    updates, opt_state = tx.update(grads, state["opt_state"], params)
    new_params = optax.apply_updates(params, updates)
    tokens = jnp.maximum(sums["tokens"], 1.0)
    on_tokens = jnp.maximum(sums["on_tokens"], 1.0)
    metrics = {"loss": loss, "pg_loss": sums["pg_loss"], "grad_norm": optax.global_norm(grads),
               "lr": schedule(state["step"]), "loss_tokens": sums["tokens"], "on_tokens": sums["on_tokens"]}
    for k, v in sums.items():
        if k.endswith("_sum"):
            metrics[k[:-4]] = v / (on_tokens if k in ("logprob_gap_sum", "approx_kl_sum") else tokens)
    return {"params": new_params, "opt_state": opt_state, "step": state["step"] + 1}, metrics


def _add(a, b):
    return jax.tree.map(jnp.add, a, b)


# ----------------------------------------------------------------------------------------------- builders
def batch_sharding(sharder: Optional[Sharder], micro: bool):
    """Rows over the batch mesh axes; [A, rows, ...] (micro) or [rows, ...]. Same spec for every rank >= 1."""
    if sharder is None:
        return None
    return sharder.sharding((None, "batch") if micro else ("batch",))


class Update:
    """The jitted update of a run: `update(state, [group, ...], norm)` -> (state, metrics).

    Each group is a dict of [A, rows, ...] micro-batches of one shape; a new shape compiles grads_fn once more
    (length buckets keep their number small). The loss-chunk of the LM head is resolved per response length.
    """

    def __init__(self, cfg: ModelConfig, loss_cfg: LossConfig, tx, schedule, sharder: Optional[Sharder] = None,
                 temperature: float = 1.0, with_entropy: bool = True, chunk=0):
        self.chunk_for = chunk if callable(chunk) else (lambda rows, n: chunk)
        self._grads = {}
        self._kw = dict(cfg=cfg, loss_cfg=loss_cfg, temperature=temperature, sharder=sharder,
                        with_entropy=with_entropy)
        self.cfg, self.tx, self.sharder = cfg, tx, sharder
        apply = functools.partial(apply_step, tx=tx, schedule=schedule)
        add = jax.jit(_add, donate_argnums=0)
        self.add = add
        if sharder is None:
            apply_fn = jax.jit(apply, donate_argnums=0)
        else:
            st, rep = state_shardings(cfg, tx, sharder), sharder.sharding(())
            apply_fn = jax.jit(apply, in_shardings=(st, st["params"], rep, rep), out_shardings=(st, rep),
                               donate_argnums=0)
        # A non-finite loss or gradient norm leaves the state as it was (metrics["finite"] False); the
        # learner's TrainGuard decides on the host whether the run goes on.
        self.apply_fn = guarded_update(apply_fn)

    def grads_fn(self, rows: int, num_response: int):
        key = (rows, num_response)
        if key not in self._grads:
            fn = functools.partial(grads_step, chunk=self.chunk_for(rows, num_response), **self._kw)
            if self.sharder is None:
                self._grads[key] = jax.jit(fn)
            else:
                p_sh, rep = param_shardings(self.cfg, self.sharder), self.sharder.sharding(())
                self._grads[key] = jax.jit(fn, in_shardings=(p_sh, batch_sharding(self.sharder, True), rep),
                                           out_shardings=(p_sh, rep, rep))
        return self._grads[key]

    def grads(self, params, groups, norm=None):
        total = None
        for g in groups:
            rows, n = g["mask"].shape[1], g["mask"].shape[2]
            out = self.grads_fn(rows, n)(params, g, norm)
            total = out if total is None else self.add(total, out)
        return total

    def behaviour(self, params, ref_params, group, recompute: bool):
        """behaviour_logprobs, jitted per shape."""
        rows, n = group["mask"].shape[1], group["mask"].shape[2]
        key = ("behaviour", rows, n, recompute, ref_params is None)
        if key not in self._grads:
            kw = {k: self._kw[k] for k in ("cfg", "temperature", "sharder")}
            self._grads[key] = jax.jit(functools.partial(behaviour_logprobs, recompute=recompute,
                                                         chunk=self.chunk_for(rows * group["mask"].shape[0], n), **kw))
        return self._grads[key](params, ref_params, group)

    def __call__(self, state, groups, norm=None):
        if isinstance(groups, dict):
            groups = [groups]
        grads, loss, sums = self.grads(state["params"], groups, norm)
        return self.apply_fn(state, grads, loss, sums)


def make_update_fn(cfg: ModelConfig, loss_cfg: LossConfig, tx, schedule, sharder: Optional[Sharder] = None,
                   temperature: float = 1.0, with_entropy: bool = True, chunk=0) -> Update:
    return Update(cfg, loss_cfg, tx, schedule, sharder, temperature, with_entropy, chunk)


def make_logprob_fn(cfg: ModelConfig, num_response: int, temperature: float, sharder: Optional[Sharder] = None,
                    chunk: int = 0):
    fn = functools.partial(logprob_step, cfg=cfg, num_response=num_response, temperature=temperature,
                           sharder=sharder, chunk=chunk)
    if sharder is None:
        return jax.jit(fn)
    rows = batch_sharding(sharder, False)
    return jax.jit(fn, in_shardings=(param_shardings(cfg, sharder), rows, rows), out_shardings=rows)
