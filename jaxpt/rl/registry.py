"""Name -> implementation registries, so an RL paradigm is a config, not a fork of the loop.

Three registries:
- ADVANTAGES: advantage estimators (host side, numpy), see jaxpt/rl/advantages.py.
- LOSSES: per-token policy losses (pure jnp, traced inside the jitted update), see jaxpt/rl/losses.py.
- ALGORITHMS: named paradigms = a set of config defaults (loss, advantage estimator, batch construction,
  clipping, aggregation, dynamic sampling...), see jaxpt/rl/algorithms.py.

    from jaxpt.rl.registry import LOSSES
    @LOSSES.register("my_loss")
    def my_loss(b, cfg): ...
"""
from typing import Callable, Dict, Iterable


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, object] = {}

    def register(self, name: str, obj=None):
        """As a decorator (`@REG.register("name")`) or a call (`REG.register("name", obj)`)."""
        def add(o):
            key = name.lower()
            if key in self._items and self._items[key] is not o:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[key] = o
            return o

        return add if obj is None else add(obj)

    def get(self, name: str):
        key = str(name).lower()
        if key not in self._items:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {sorted(self._items)}")
        return self._items[key]

    def __contains__(self, name) -> bool:
        return str(name).lower() in self._items

    def names(self) -> Iterable[str]:
        return sorted(self._items)

    def __repr__(self):
        return f"Registry({self.kind}: {', '.join(self.names())})"


ADVANTAGES = Registry("advantage estimator")
LOSSES = Registry("policy loss")
ALGORITHMS = Registry("RL algorithm")


def _ensure_loaded() -> None:
    # Importing the modules runs their registrations.
    from jaxpt.rl import advantages, algorithms, losses  # noqa: F401


def get_advantage(name: str) -> Callable:
    _ensure_loaded()
    return ADVANTAGES.get(name)


def get_loss(name: str) -> Callable:
    _ensure_loaded()
    return LOSSES.get(name)


def get_algorithm(name: str) -> dict:
    _ensure_loaded()
    return ALGORITHMS.get(name)
