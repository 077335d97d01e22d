"""Policy losses (pure jnp; traced inside the jitted update) and loss aggregation.

A loss works on one (micro-)batch given as a dict of arrays, rows = responses, T = response tokens:

    logp [B, T]      log pi_theta of each response token (the trainer's forward, at the loss temperature)
    old_logp [B, T]  log pi_old (the behaviour policy that sampled the rollout)
    ref_logp [B, T]  log pi_ref of a frozen reference (only read when kl_coef > 0)
    entropy [B, T]   entropy of pi_theta at each position (differentiable)
    mask [B, T]      1 on tokens that count (response tokens through EOS; 0 on padding / filtered rows)
    adv [B]          sequence advantage (broadcast to the tokens)
    reward [B]       the rule reward (SRFT splits positive / negative samples on `correct`)
    correct [B]      1 when the verifier accepted the response
    off [B]          1 on expert (off-policy) rows: LUFFY / SRFT
    sft [B]          1 on rows trained with SFT NLL: UPT's gated expert rows

Each registered loss returns (per-token loss [B, T], per-token metric values {name: [B, T]}); `policy_loss`
adds the KL and entropy terms and aggregates. Aggregation is written with *global* normalisers (tokens, rows
of the whole mini-batch), so summing micro-batch losses gives exactly the mini-batch loss.
"""
import dataclasses
from typing import Dict, Optional, Tuple

import jax
import jax.numpy as jnp

from jaxpt.utils.registry import Registry

LOSSES = Registry("policy loss")

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")
KL_TYPES = ("k1", "k2", "k3")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Static (hashable) loss settings; part of the update's compile key."""
    name: str = "ppo"  # a LOSSES entry: ppo (GRPO / DAPO), luffy, srft, upt, reinforce
    clip_eps_low: float = 0.2
    clip_eps_high: float = 0.2  # DAPO clip-higher: 0.28
    dual_clip: float = 0.0  # c > 1 enables dual clip for A < 0 (3 is common; the paper used 10); 0 = off
    kl_coef: float = 0.0  # beta of the KL to the frozen reference; 0 = no reference model
    kl_type: str = "k3"  # k1: log(pi/pi_ref); k2: 0.5 log^2; k3: pi_ref/pi - log(pi_ref/pi) - 1
    entropy_coef: float = 0.0  # entropy bonus (subtracted from the loss)
    agg_mode: str = "token-mean"
    agg_constant: float = 0.0  # divisor of seq-mean-token-sum (Dr.GRPO); 0 = the padded response length T
    # LUFFY: policy shaping f(p) = p / (p + gamma) on off-policy tokens; behaviour probability taken as 1.
    luffy_gamma: float = 0.1
    # SRFT: w1 = sft_scale * sg(exp(-H)), w2 = pos_scale * sg(exp(H)); off-policy term on log pi ("logp") or
    # on pi itself ("prob": importance ratio against a behaviour probability of 1).
    srft_sft_scale: float = 0.5
    srft_pos_scale: float = 0.1
    srft_off_term: str = "logp"
    # UPT / HPT: coefficient of the SFT NLL on gated expert rows.
    sft_coef: float = 1.0
    log_ratio_clamp: float = 20.0  # numerical guard on log(pi/pi_old) before exp

    def __post_init__(self):
        if self.agg_mode not in AGG_MODES:
            raise ValueError(f"agg_mode must be one of {AGG_MODES}, got {self.agg_mode!r}")
        if self.kl_type not in KL_TYPES:
            raise ValueError(f"kl_type must be one of {KL_TYPES}, got {self.kl_type!r}")
        if self.dual_clip and self.dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1 (or 0 = off), got {self.dual_clip}")
        if self.srft_off_term not in ("logp", "prob"):
            raise ValueError(f"srft_off_term must be logp or prob, got {self.srft_off_term!r}")


# ------------------------------------------------------------------------------------------- building blocks
def ppo_token_loss(logp, old_logp, adv, cfg: LossConfig):
    """Clipped surrogate -min(r A, clip(r) A) per token, with the optional dual clip for A < 0.

    Returns (loss [B, T], clipped [B, T] 0/1, dual_clipped [B, T] 0/1, ratio [B, T]).
    """
    log_ratio = jnp.clip(logp - old_logp, -cfg.log_ratio_clamp, cfg.log_ratio_clamp)
    ratio = jnp.exp(log_ratio)
    a = adv[:, None].astype(jnp.float32)
    pg1 = -a * ratio
    pg2 = -a * jnp.clip(ratio, 1.0 - cfg.clip_eps_low, 1.0 + cfg.clip_eps_high)
    loss = jnp.maximum(pg1, pg2)
    clipped = (pg2 > pg1).astype(jnp.float32)
    dual = jnp.zeros_like(loss)
    if cfg.dual_clip:
        pg3 = -a * cfg.dual_clip
        use = (a < 0) & (pg3 < loss)
        loss = jnp.where(a < 0, jnp.minimum(loss, pg3), loss)
        dual = use.astype(jnp.float32)
    return loss, clipped, dual, ratio


def kl_penalty(logp, ref_logp, kind: str):
    """Per-token KL estimate of pi_theta against pi_ref from sampled tokens."""
    log_ratio = logp - ref_logp  # log(pi / pi_ref)
    if kind == "k1":
        return log_ratio
    if kind == "k2":
        return 0.5 * log_ratio ** 2
    # k3 (Schulman): pi_ref/pi - log(pi_ref/pi) - 1 >= 0, unbiased, low variance.
    neg = jnp.clip(-log_ratio, -20.0, 20.0)
    return jnp.exp(neg) - neg - 1.0


def row_token_mean(x, mask):
    """Per-row masked mean [B] (0 for empty rows)."""
    return jnp.sum(x * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)


def _row(b, key, like):
    """A per-row array from the batch, or zeros."""
    v = b.get(key)
    return jnp.zeros(like.shape[:1], jnp.float32) if v is None else v.astype(jnp.float32)


# --------------------------------------------------------------------------------------------------- losses
@LOSSES.register("ppo")
def ppo_loss(b, cfg: LossConfig):
    """GRPO / DAPO: clipped surrogate on every row."""
    loss, clipped, dual, ratio = ppo_token_loss(b["logp"], b["old_logp"], b["adv"], cfg)
    return loss, {"clip_frac": clipped, "dual_clip_frac": dual, "ratio": ratio}


@LOSSES.register("reinforce")
def reinforce_loss(b, cfg: LossConfig):
    """Vanilla policy gradient -A log pi (no ratio, no clipping)."""
    del cfg
    a = b["adv"][:, None].astype(jnp.float32)
    return -a * b["logp"], {}


@LOSSES.register("luffy")
def luffy_loss(b, cfg: LossConfig):
    """On-policy rows: clipped surrogate. Off-policy (expert) rows: -f(pi_theta) A with policy shaping
    f(p) = p / (p + gamma), the behaviour probability taken as 1, and no clipping."""
    on, clipped, dual, ratio = ppo_token_loss(b["logp"], b["old_logp"], b["adv"], cfg)
    p = jnp.exp(b["logp"])
    shaped = p / (p + cfg.luffy_gamma)
    a = b["adv"][:, None].astype(jnp.float32)
    off_loss = -shaped * a
    off = _row(b, "off", b["logp"])[:, None] > 0
    loss = jnp.where(off, off_loss, on)
    zero = jnp.zeros_like(on)
    return loss, {"clip_frac": jnp.where(off, zero, clipped), "dual_clip_frac": jnp.where(off, zero, dual),
                  "ratio": jnp.where(off, zero + 1.0, ratio), "off_prob": jnp.where(off, p, zero)}


@LOSSES.register("srft")
def srft_loss(b, cfg: LossConfig):
    """SRFT: J = w1 J_sft + J_off + w2 J_pos + J_neg (the loss is -J).

    Expert rows: w1 log pi (SFT, w1 = sft_scale * sg(exp(-H))) plus the off-policy term A log pi (or A pi).
    Rollouts: correct ones w2 log pi (w2 = pos_scale * sg(exp(H))), wrong ones -log pi.
    H is the detached token-mean entropy of the row's own response.
    """
    logp, mask = b["logp"], b["mask"].astype(jnp.float32)
    h = jax.lax.stop_gradient(row_token_mean(b["entropy"], mask))[:, None]
    w1 = cfg.srft_sft_scale * jnp.exp(-h)
    w2 = cfg.srft_pos_scale * jnp.exp(h)
    a = b["adv"][:, None].astype(jnp.float32)
    off_term = a * (logp if cfg.srft_off_term == "logp" else jnp.exp(logp))
    j_expert = w1 * logp + off_term
    correct = _row(b, "correct", logp)[:, None] > 0
    j_roll = jnp.where(correct, w2 * logp, -logp)
    off = _row(b, "off", logp)[:, None] > 0
    j = jnp.where(off, j_expert, j_roll)
    zero = jnp.zeros_like(logp)
    return -j, {"w_sft": jnp.where(off, w1 + zero, zero), "w_pos": jnp.where(~off & correct, w2 + zero, zero)}


@LOSSES.register("upt")
def upt_loss(b, cfg: LossConfig):
    """UPT / HPT: SFT NLL (coefficient sft_coef) on gated expert rows, the clipped surrogate elsewhere."""
    on, clipped, dual, ratio = ppo_token_loss(b["logp"], b["old_logp"], b["adv"], cfg)
    sft = _row(b, "sft", b["logp"])[:, None] > 0
    loss = jnp.where(sft, -cfg.sft_coef * b["logp"], on)
    zero = jnp.zeros_like(on)
    return loss, {"clip_frac": jnp.where(sft, zero, clipped), "dual_clip_frac": jnp.where(sft, zero, dual),
                  "ratio": jnp.where(sft, zero + 1.0, ratio)}


# ----------------------------------------------------------------------------------------------- aggregation
def normalizers(mask) -> Dict[str, jax.Array]:
    """Global normalisers of a (mini-)batch: loss tokens and rows with at least one loss token."""
    mask = mask.astype(jnp.float32)
    return {"tokens": jnp.maximum(jnp.sum(mask), 1.0),
            "rows": jnp.maximum(jnp.sum(jnp.any(mask > 0, axis=1).astype(jnp.float32)), 1.0)}


def aggregate(tok_loss, mask, mode: str, norm: Dict[str, jax.Array], constant: float = 0.0):
    """Reduces per-token losses [B, T] to a scalar.

    token-mean:           sum_{i,t} l / (loss tokens of the mini-batch)                      (DAPO)
    seq-mean-token-mean:  sum_i [sum_t l / |o_i|] / (rows of the mini-batch)                 (GRPO)
    seq-mean-token-sum:   sum_i [sum_t l / C] / (rows of the mini-batch), C constant (T if 0) (Dr.GRPO)
    """
    mask = mask.astype(jnp.float32)
    lm = tok_loss * mask
    if mode == "token-mean":
        return jnp.sum(lm) / norm["tokens"]
    if mode == "seq-mean-token-mean":
        per_row = jnp.sum(lm, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)
        return jnp.sum(per_row) / norm["rows"]
    if mode == "seq-mean-token-sum":
        c = constant or tok_loss.shape[1]
        return jnp.sum(lm) / c / norm["rows"]
    raise ValueError(f"unknown agg_mode {mode!r}; known: {AGG_MODES}")


def policy_loss(b, cfg: LossConfig, norm: Optional[Dict[str, jax.Array]] = None
                ) -> Tuple[jax.Array, Dict[str, jax.Array]]:
    """The full objective on one (micro-)batch: registered loss + KL + entropy terms, aggregated.

    Returns (loss, metric sums): each metric is sum over loss tokens of the per-token value (divide by the
    mini-batch's token count for a mean) so micro-batches add up.
    """
    mask = b["mask"].astype(jnp.float32)
    norm = normalizers(mask) if norm is None else norm
    tok, extras = LOSSES.get(cfg.name)(b, cfg)
    sums = {f"{k}_sum": jnp.sum(v * mask) for k, v in extras.items()}
    sums["pg_loss"] = aggregate(tok, mask, cfg.agg_mode, norm, cfg.agg_constant)
    if cfg.kl_coef:
        kl = kl_penalty(b["logp"], b["ref_logp"], cfg.kl_type)
        tok = tok + cfg.kl_coef * kl
        sums["kl_sum"] = jnp.sum(jax.lax.stop_gradient(kl) * mask)
    if cfg.entropy_coef:
        tok = tok - cfg.entropy_coef * b["entropy"]
    loss = aggregate(tok, mask, cfg.agg_mode, norm, cfg.agg_constant)
    sg = jax.lax.stop_gradient
    sums["entropy_sum"] = jnp.sum(sg(b["entropy"]) * mask)
    sums["tokens"] = jnp.sum(mask)
    # Ratio statistics only where a behaviour logprob exists (on-policy rollouts, not expert / SFT rows).
    on_mask = mask * (1.0 - _row(b, "off", mask))[:, None] * (1.0 - _row(b, "sft", mask))[:, None]
    log_ratio = jnp.clip(sg(b["logp"] - b["old_logp"]), -cfg.log_ratio_clamp, cfg.log_ratio_clamp)
    # Trainer vs behaviour logprob gap (on the first mini-batch this is the sampler/trainer mismatch).
    sums["logprob_gap_sum"] = jnp.sum(jnp.abs(log_ratio) * on_mask)
    # approx KL(pi_old || pi_theta), k3 estimator
    sums["approx_kl_sum"] = jnp.sum((jnp.exp(-log_ratio) + log_ratio - 1.0) * on_mask)
    sums["on_tokens"] = jnp.sum(on_mask)
    return loss, sums


# ----------------------------------------------------------------------------------------------- inert rows
# Losses whose per-token value is A x (something) on every row they may see, so a row with advantage 0 has
# loss 0 and gradient exactly 0: ppo (-min(rA, clip(r)A); the dual clip acts only for A < 0), reinforce (-A log
# pi), luffy (the surrogate, and -f(pi) A on expert rows), upt (the surrogate; its SFT rows are not of this kind).
# srft is absent: its SFT and positive/negative terms do not depend on A.
ZERO_AT_ZERO_ADVANTAGE = frozenset({"ppo", "reinforce", "luffy", "upt"})


def inert_rows(mask, adv, sft, cfg: LossConfig):
    """bool [B] (numpy): rows whose contribution to the loss and its gradient is exactly zero: no loss token,
    or advantage 0 under a loss that scales with the advantage, with no KL or entropy term and no SFT NLL. The
    update leaves them out; it keeps the mini-batch's normalisers (tokens, rows) counted over all rows, so the
    loss of the remaining rows is the loss of the whole mini-batch."""
    import numpy as np

    empty = ~(np.asarray(mask) > 0).any(axis=1)
    if cfg.name not in ZERO_AT_ZERO_ADVANTAGE or cfg.kl_coef or cfg.entropy_coef:
        return empty
    return empty | ((np.asarray(adv) == 0) & (np.asarray(sft) == 0))
