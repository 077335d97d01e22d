"""The training guard: non-finite updates and a stuck (flat, zero-gradient) loss, for SFT and RL alike.

Two halves, because the device must not wait for the host every step:

    update = guarded_update(jitted_update)          # in-graph: a non-finite update is never applied
    guard = TrainGuard.from_config(cfg, "sft")
    ...
    for step, m in host_metrics:                    # host: after each fetch of the per-update metrics
        applied = guard.check(step, m)              # False: that update was skipped (policy "skip")

`guarded_update` wraps a jitted `(state, batch) -> (state, metrics)` update: when the loss or the gradient
norm is not finite, the returned state is the input state (parameters, optimizer moments and step counter:
the update is skipped as if its batch had not been there) and `metrics["finite"]` is False. The select is
elementwise with a scalar predicate known before the optimizer runs, so XLA fuses it into the update and no
second copy of the state is held.

`TrainGuard.check` applies the policy (config section `guard`):
    "stop" (default): raises NonFiniteError naming the step and the metric(s) that were not finite;
    "skip": counts the skipped update; guard.max_consecutive_skips skips in a row raise NonFiniteError.
It also warns once per streak when the loss has been flat with a gradient norm of exactly 0 for
guard.flat_steps steps (a run that cannot learn: e.g. a learning rate so large that every unit saturated).

An update whose loss and gradient are finite can still produce non-finite parameters (Adam with eps=0 divides
0 by 0); the next step's loss shows it, and `assert_finite` (called before every checkpoint save and model
export) keeps such a state from ever being written.
"""
import logging
import math
from typing import Iterable, Mapping, Optional

import jax
import jax.numpy as jnp

POLICIES = ("stop", "skip")
WATCHED = ("loss", "grad_norm")  # metrics of an update that must be finite
# What a flat loss with zero gradients usually means, per stage (the warning's hint).
FLAT_HINTS = {"SFT": "a learning rate too large for the model saturates it; check optim.lr",
              "RL": "no group had rollouts with different rewards (all right or all wrong: no advantage), or a "
                    "learning rate too large for the model saturated it; check the rewards and optim.lr"}


class NonFiniteError(RuntimeError):
    """A non-finite loss, gradient norm or state; the message names the step and what was not finite."""


# ------------------------------------------------------------------------------------------------ device side
def guarded_update(update_fn, watched: Iterable[str] = WATCHED):
    """The jitted update `update_fn(state, *args) -> (state, metrics)`, skipping non-finite updates in-graph.

    The state is donated as by the wrapped function; the wrapped function's own shardings still apply (a
    nested jit keeps its in/out shardings), so the wrapper needs none of its own.
    """
    watched = tuple(watched)

    def step(state, *args):
        new, metrics = update_fn(state, *args)
        ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(metrics[k])) for k in watched]))
        kept = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, state)
        return kept, {**metrics, "finite": ok}

    return jax.jit(step, donate_argnums=0)


@jax.jit
def _count_nonfinite(tree):
    """Number of leaves holding a NaN or an infinity (one device reduction, one host sync)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    if not leaves:
        return jnp.zeros((), jnp.int32)
    return sum(jnp.any(~jnp.isfinite(x)).astype(jnp.int32) for x in leaves)


def nonfinite_leaves(tree) -> int:
    return int(_count_nonfinite(tree))


def assert_finite(tree, what: str) -> None:
    """Raises NonFiniteError when any floating leaf of `tree` holds a NaN or an infinity; `what` says which
    state and step (e.g. "step 40: the train state") for the message."""
    bad = nonfinite_leaves(tree)
    if bad:
        total = sum(1 for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact))
        raise NonFiniteError(f"{what}: non-finite values in {bad} of {total} tensors; not written (a non-finite "
                             "state is never saved or exported)")


# ------------------------------------------------------------------------------------------------ host side
def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check


class TrainGuard:
    """The host half: policy on non-finite updates, and the flat-loss warning. See the module docstring."""

    def __init__(self, policy: str = "stop", max_consecutive_skips: int = 10, flat_steps: int = 0,
                 stage: str = "SFT", watched: Iterable[str] = WATCHED):
        if policy not in POLICIES:
            raise ValueError(f"guard.nonfinite_policy = {policy!r}; expected one of {POLICIES}")
        self.policy, self.max_skips, self.flat_steps = policy, int(max_consecutive_skips), int(flat_steps)
        self.stage, self.watched = stage, tuple(watched)
        self.skipped = 0  # updates skipped in this run (all of them)
        self.consecutive = 0  # skipped in a row, up to the latest check
        self.last_good_step: Optional[int] = None
        self._flat_since: Optional[int] = None
        self._flat_loss: Optional[float] = None
        self._flat_warned = False

    @classmethod
    def from_config(cls, cfg, stage: str) -> "TrainGuard":
        g = cfg.guard
        return cls(str(g.nonfinite_policy), int(g.max_consecutive_skips), int(g.flat_steps), stage)

    def check(self, step: int, metrics: Mapping, prefix: str = "train/") -> bool:
        """One update's host metrics (`loss`, `grad_norm` and, from guarded_update, `finite`). Returns True
        when the update was applied, False when it was skipped; raises NonFiniteError under "stop" or past
        the cap of consecutive skips. `prefix` only names the metrics in messages as the logs do."""
        bad = [k for k in self.watched if k in metrics and not _finite(metrics[k])]
        if "finite" in metrics and not bool(metrics["finite"]) and not bad:
            bad = ["update"]
        if not bad:
            self.consecutive = 0
            self.last_good_step = step
            self._watch_flat(step, metrics)
            return True
        values = ", ".join(f"{prefix}{k} = {float(metrics[k])}" for k in bad if k in metrics)
        if self.policy == "stop":
            raise NonFiniteError(
                f"{self.stage} step {step}: non-finite {values or 'update'}; guard.nonfinite_policy='stop' ended "
                f"the run. Nothing non-finite was saved: fix the cause (learning rate, optim.eps, data) and "
                f"resume from the last checkpoint, or set guard.nonfinite_policy='skip'")
        self.skipped += 1
        self.consecutive += 1
        self._flat_since = None
        logging.warning("%s step %d: non-finite %s; update skipped (%d skipped so far, %d in a row)", self.stage,
                        step, values or "update", self.skipped, self.consecutive)
        if self.consecutive >= self.max_skips:
            since = f"after step {self.last_good_step}" if self.last_good_step is not None else "from the start"
            raise NonFiniteError(
                f"{self.stage} step {step}: {self.consecutive} non-finite updates in a row (every update "
                f"{since}; last: {values or 'update'}) reached guard.max_consecutive_skips="
                f"{self.max_skips}; the run stops. Nothing non-finite was saved: fix the cause (learning rate, "
                "optim.eps, data) and resume from the last checkpoint")
        return False

    def _watch_flat(self, step: int, metrics: Mapping) -> None:
        if not self.flat_steps or "grad_norm" not in metrics or "loss" not in metrics:
            return
        loss, gnorm = float(metrics["loss"]), float(metrics["grad_norm"])
        flat = self._flat_loss is not None and abs(loss - self._flat_loss) <= 1e-4 * max(1.0, abs(self._flat_loss))
        if gnorm != 0.0:
            self._flat_since, self._flat_loss, self._flat_warned = None, None, False
            return
        if self._flat_since is None or not flat:
            self._flat_since, self._flat_loss, self._flat_warned = step, loss, False
        n = step - self._flat_since + 1
        if n >= self.flat_steps and not self._flat_warned:
            self._flat_warned = True
            lr = f" at learning rate {float(metrics['lr']):.3g}" if "lr" in metrics else ""
            hint = FLAT_HINTS.get(self.stage, FLAT_HINTS["SFT"])
            logging.warning("%s: the loss has stayed at %.4f with a gradient norm of exactly 0 for %d steps "
                            "(steps %d-%d)%s: the model is not learning (%s)", self.stage, loss, n,
                            self._flat_since, step, lr, hint)

    @property
    def flat_warned(self) -> bool:
        return self._flat_warned

    def metrics(self) -> dict:
        return {"guard/skipped_updates": self.skipped}

    def state_dict(self) -> dict:
        return {"skipped": self.skipped}

    def load_state_dict(self, st: Optional[dict]) -> None:
        self.skipped = int((st or {}).get("skipped", 0))
