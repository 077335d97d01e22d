"""One scheduler for every paradigm: which objective each step trains, and when SFT hands over to RL.

Paradigms (the paper's comparison):
    pure_sft    SFT only.
    pure_rl     RL from the base model (no SFT).
    sequential  SFT, then RL branched from an SFT checkpoint chosen by the switch mode.
    luffy, srft, upt   synchronized SFT+RL: RL steps that mix expert trajectories in (x_sft = 0).

Switch modes (sequential):
    mild    SFT until mild overfitting is detected online, then RL from the minimum-validation-loss
            checkpoint (the paper's practical rule);
    stable  switch at the first Stable point, RL from that checkpoint;
    step    switch at a fixed SFT step;
    flops   switch once cumulative SFT FLOPs reach a budget;
    forecast  from the first Stable point on, probe candidate checkpoints with short RL runs and keep training
            SFT while a newer candidate's forecast beats the best (jaxpt.schedule.forecast_switch).
If SFT ends without the condition holding (a curve that never overfits), RL starts from the best checkpoint
(forecast: the best probed candidate).
"""
import dataclasses
from typing import Optional

from jaxpt.schedule.detector import RegimeDetector


@dataclasses.dataclass(frozen=True)
class Paradigm:
    name: str
    sft: bool  # runs an SFT stage first
    rl: Optional[str]  # RL algorithm name in the RL registry; None = no RL
    synchronized: bool = False  # RL steps also train on expert trajectories


def paradigm(name: str, rl_algorithm: str = "dapo") -> Paradigm:
    table = {
        "pure_sft": Paradigm("pure_sft", sft=True, rl=None),
        "pure_rl": Paradigm("pure_rl", sft=False, rl=rl_algorithm),
        "sequential": Paradigm("sequential", sft=True, rl=rl_algorithm),
        "luffy": Paradigm("luffy", sft=False, rl="luffy", synchronized=True),
        "srft": Paradigm("srft", sft=False, rl="srft", synchronized=True),
        "upt": Paradigm("upt", sft=False, rl="upt", synchronized=True),
    }
    if name not in table:
        raise ValueError(f"unknown paradigm {name!r}; known: {sorted(table)}")
    return table[name]


PARADIGMS = ("pure_sft", "pure_rl", "sequential", "luffy", "srft", "upt")
SWITCH_MODES = ("mild", "stable", "step", "flops", "forecast")


@dataclasses.dataclass
class SwitchDecision:
    switch: bool
    branch_step: Optional[int] = None  # SFT checkpoint RL starts from
    regime: str = "adaptive"  # online regime at the decision
    reason: str = ""
    probe: bool = False  # forecast mode: probe this checkpoint with a short RL run, then call on_probe


class Scheduler:
    """Feed it every SFT evaluation; it says when to stop SFT and which checkpoint RL branches from."""

    def __init__(self, paradigm_name: str = "sequential", rl_algorithm: str = "dapo", switch_mode: str = "mild",
                 switch_step: Optional[int] = None, switch_flops: Optional[float] = None,
                 delta: float = 0.02, delta2: float = 0.1, patience: int = 2, smoothing: float = 0.0,
                 forecast=None):
        self.paradigm = paradigm(paradigm_name, rl_algorithm)
        if switch_mode not in SWITCH_MODES:
            raise ValueError(f"unknown switch mode {switch_mode!r}; known: {SWITCH_MODES}")
        if switch_mode == "step" and switch_step is None:
            raise ValueError("switch_mode 'step' needs switch_step")
        if switch_mode == "flops" and switch_flops is None:
            raise ValueError("switch_mode 'flops' needs switch_flops")
        if (switch_mode == "forecast") != (forecast is not None):
            raise ValueError("switch_mode 'forecast' needs a ForecastSwitch (forecast=...), and only it takes one")
        self.switch_mode, self.switch_step, self.switch_flops = switch_mode, switch_step, switch_flops
        self.forecast = forecast  # jaxpt.schedule.forecast_switch.ForecastSwitch in forecast mode
        self.detector = RegimeDetector(delta, delta2, patience, smoothing)
        self.decision: Optional[SwitchDecision] = None
        self.phase = "sft" if self.paradigm.sft else ("rl" if self.paradigm.rl else "done")

    @classmethod
    def from_config(cls, cfg, forecast=None) -> "Scheduler":
        """From a config's `schedule` section (switch_step / switch_flops of 0 = unset); forecast mode also needs
        the ForecastSwitch (jaxpt.schedule.forecast_switch.from_config builds it from the whole tree)."""
        g = cfg.get
        return cls(g("paradigm", "sequential"), g("rl_algorithm", "grpo"), g("switch_mode", "mild"),
                   g("switch_step", 0) or None, g("switch_flops", 0.0) or None, g("delta", 0.02), g("delta2", 0.1),
                   g("patience", 2), g("smoothing", 0.0), forecast)

    def objective(self) -> str:
        """'sft', 'rl' (with expert mixing when the paradigm is synchronized) or 'done'."""
        return self.phase

    def on_sft_eval(self, step: int, val_loss: float, sft_flops: float = 0.0) -> SwitchDecision:
        state = self.detector.update(step, val_loss)
        if self.phase != "sft":
            return self.decision or SwitchDecision(False, regime=state.regime)
        if self.paradigm.rl is None:  # pure SFT never switches; it only tracks regimes
            return SwitchDecision(False, regime=state.regime)
        mode = self.switch_mode
        if mode == "mild" and state.regime in ("mild", "severe"):
            d = SwitchDecision(True, state.best_step, state.regime,
                               f"{state.regime} overfitting detected at step {step}; branch from the minimum "
                               f"validation loss at step {state.best_step}")
        elif mode == "stable" and state.regime == "stable":
            d = SwitchDecision(True, step, "stable", f"first stable point at step {step}")
        elif mode == "step" and step >= self.switch_step:
            d = SwitchDecision(True, step, state.regime, f"fixed switch step {self.switch_step} reached")
        elif mode == "flops" and sft_flops >= self.switch_flops:
            d = SwitchDecision(True, step, state.regime, f"SFT FLOPs budget {self.switch_flops:.3g} reached")
        elif mode == "forecast":
            probe = self.forecast.is_candidate(step, sft_flops, self.detector.settled_step is not None)
            return SwitchDecision(False, regime=state.regime, probe=probe)
        else:
            return SwitchDecision(False, regime=state.regime)
        self.decision = d
        self.phase = "rl"
        return d

    def on_probe(self, probe, final: bool = False) -> SwitchDecision:
        """Forecast mode: the probe of the candidate the last on_sft_eval asked for has run. Returns a switch
        decision (switch=True: stop SFT, RL continues from branch_step) and keeps the verdict in
        self.forecast.verdicts. final: SFT has no more steps."""
        v = self.forecast.add(probe, final=final)
        if v.continue_sft:
            return SwitchDecision(False, v.best_step, self.detector.regime, v.reason)
        self.decision = SwitchDecision(True, v.best_step, self.detector.regime,
                                       f"forecast: candidate {v.step} {v.reason}; RL continues from the best "
                                       f"candidate, step {v.best_step}")
        self.phase = "rl"
        return self.decision

    def finish_sft(self) -> SwitchDecision:
        """SFT ran out of steps without a switch: branch from the best checkpoint seen (or stop)."""
        if self.decision is None and self.forecast is not None and self.forecast.probes:
            best = self.forecast.best_step()
            self.decision = SwitchDecision(True, best, self.detector.regime, "SFT budget exhausted; RL continues "
                                           f"from the best probed candidate, step {best}")
        if self.decision is None:
            best = self.detector.best_step
            self.decision = SwitchDecision(self.paradigm.rl is not None, best, self.detector.regime,
                                           "SFT budget exhausted without the switch condition; branch from the "
                                           f"minimum validation loss at step {best}")
        self.phase = "rl" if self.paradigm.rl else "done"
        return self.decision
