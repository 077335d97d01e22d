"""Counting records a stage leaves out, by reason, with the first few places, so nothing goes silently."""
import collections
import logging
from typing import Dict, List, Optional

SHOWN = 3  # locations logged per reason


class Drops:
    def __init__(self, what: str):
        self.what = what
        self.counts: Dict[str, int] = collections.Counter()
        self.where: Dict[str, List[str]] = collections.defaultdict(list)

    def add(self, reason: str, where: Optional[str] = None, n: int = 1) -> None:
        self.counts[reason] += n
        if where is not None and len(self.where[reason]) < SHOWN:
            self.where[reason].append(str(where))

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def log(self, kept: int) -> None:
        for reason, n in sorted(self.counts.items()):
            places = ", ".join(self.where.get(reason, []))
            logging.warning("%s: dropped %d of %d records (%s)%s", self.what, n, n + kept if kept is not None else n,
                            reason, f"; first at {places}" if places else "")

    def metrics(self, prefix: str) -> Dict[str, int]:
        out = {f"{prefix}/dropped_{reason.replace(' ', '_')}": int(n) for reason, n in self.counts.items()}
        out[f"{prefix}/dropped"] = self.total
        return out
