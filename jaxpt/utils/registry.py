"""Name -> implementation tables, so a variant is chosen by a config string instead of a fork of the code.

Each table lives in the module that defines its entries (jaxpt.rl.advantages.ADVANTAGES, jaxpt.rl.losses.LOSSES,
jaxpt.rl.algorithms.ALGORITHMS): importing the module registers them, and nothing imports back.

    LOSSES = Registry("policy loss")
    @LOSSES.register("my_loss")
    def my_loss(b, cfg): ...
"""
from typing import Dict, Iterable


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
