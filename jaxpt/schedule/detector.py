"""Online SFT-regime detection over the validation-loss stream (paper Eqs. 5-9, made causal).

The paper's regimes are retrospective: they need the global minimum L_min of the whole run
(`jaxpt.analysis.regimes.label_regimes`). Online we only know the running minimum, so:

- adaptive: the running minimum is still falling by more than `delta` (relative) over the last `patience`
  evaluations, i.e. the model is still learning fast;
- stable: the (smoothed) loss is within (1 + delta) of the running minimum and the minimum has plateaued;
- mild: after the minimum, `patience` consecutive evaluations inside the band
  (1 + delta) L_min < L < (1 + delta2) L_min (noise that pops out of the stable band once is not enough);
- severe: an evaluation at or above (1 + delta2) L_min after the minimum.

`smoothing` (an exponential moving average weight in [0, 1); 0 = none) damps noisy validation losses before
any comparison. Relabel with `label_regimes` when the run ends: the online labels can only lag.
"""
import dataclasses
import math
from typing import List, Optional


@dataclasses.dataclass
class DetectorState:
    step: int
    loss: float  # smoothed loss of this evaluation
    regime: str
    best_step: int  # step of the running minimum (the checkpoint the paper's rule branches from)
    best_loss: float


class RegimeDetector:
    def __init__(self, delta: float = 0.02, delta2: float = 0.1, patience: int = 2, smoothing: float = 0.0):
        if not 0 <= delta < delta2:
            raise ValueError(f"need 0 <= delta < delta2, got delta={delta}, delta2={delta2}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.delta, self.delta2, self.patience, self.smoothing = delta, delta2, patience, smoothing
        self.history: List[DetectorState] = []
        self._ema: Optional[float] = None
        self._mild_run = 0
        self.first_stable_step: Optional[int] = None
        self.mild_step: Optional[int] = None
        self.severe_step: Optional[int] = None

    @property
    def best_step(self) -> Optional[int]:
        return self.history[-1].best_step if self.history else None

    @property
    def settled_step(self) -> Optional[int]:
        """The first step past the Adaptive regime: the first Stable point, or the first Mild / Severe one when
        the loss turned up before a plateau was confirmed (an early minimum followed by a jump: the online
        detector never calls it Stable, but the fast fall is over all the same)."""
        steps = [s for s in (self.first_stable_step, self.mild_step, self.severe_step) if s is not None]
        return min(steps) if steps else None

    @property
    def regime(self) -> str:
        return self.history[-1].regime if self.history else "adaptive"

    def update(self, step: int, loss: float) -> DetectorState:
        if not math.isfinite(loss):
            raise ValueError(f"validation loss at step {step} is not finite: {loss}")
        self._ema = loss if self._ema is None else self.smoothing * self._ema + (1 - self.smoothing) * loss
        smooth = self._ema
        prev_best = self.history[-1] if self.history else None
        if prev_best is None or smooth < prev_best.best_loss:
            best_step, best_loss = step, smooth
        else:
            best_step, best_loss = prev_best.best_step, prev_best.best_loss

        in_band = smooth <= (1 + self.delta) * best_loss
        if in_band:
            self._mild_run = 0
            # Plateau test: how much did the running minimum fall over the last `patience` evaluations?
            if len(self.history) >= self.patience:
                old = self.history[-self.patience].best_loss  # the running minimum `patience` evals ago
                still_falling = (old - best_loss) > self.delta * best_loss
            else:
                still_falling = True
            if self.first_stable_step is None and not still_falling:
                self.first_stable_step = step
            regime = "stable" if self.first_stable_step is not None else "adaptive"
        elif smooth >= (1 + self.delta2) * best_loss:
            self._mild_run = 0
            regime = "severe"
            if self.severe_step is None:
                self.severe_step = step
        else:
            self._mild_run += 1
            confirmed = self._mild_run >= self.patience or self.mild_step is not None
            regime = "mild" if confirmed else (self.history[-1].regime if self.history else "adaptive")
            if confirmed and self.mild_step is None:
                self.mild_step = step
        state = DetectorState(step, smooth, regime, best_step, best_loss)
        self.history.append(state)
        return state
