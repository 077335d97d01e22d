"""The RL registries in one place (a facade: the tables live with their entries, so importing this module loads
them; no module of jaxpt.rl imports this one, hence no cycle).

- ADVANTAGES: advantage estimators (host side, numpy), jaxpt/rl/advantages.py.
- LOSSES: per-token policy losses (pure jnp, traced inside the jitted update), jaxpt/rl/losses.py.
- ALGORITHMS: named paradigms as frozen presets (loss, advantage, batch mode, clipping, aggregation, dynamic
  sampling...), jaxpt/rl/algorithms.py.
"""
from typing import Callable

from jaxpt.rl.advantages import ADVANTAGES
from jaxpt.rl.algorithms import ALGORITHMS
from jaxpt.rl.losses import LOSSES

__all__ = ["ADVANTAGES", "ALGORITHMS", "LOSSES", "get_advantage", "get_loss"]


def get_advantage(name: str) -> Callable:
    return ADVANTAGES.get(name)


def get_loss(name: str) -> Callable:
    return LOSSES.get(name)
