"""An endless, deterministic, resumable stream of packed training batches.

Epoch e visits the examples in the permutation drawn from numpy's default_rng([seed, e]); documents are
packed greedily in that order (jaxpt.data.packing), crossing epoch boundaries without a partial batch. The
whole position is (epoch, index), saved in checkpoints so a resumed run sees exactly the batches an
uninterrupted one would.
"""
from typing import Sequence

import numpy as np

from jaxpt.data.packing import Example, build_batch


class BatchIterator:
    def __init__(self, examples: Sequence[Example], rows: int, seq_len: int, seed: int = 0,
                 pack: bool = True, shuffle: bool = True):
        if not examples:
            raise ValueError("no training examples")
        longest = max(len(e[0]) for e in examples)
        if longest > seq_len:
            raise ValueError(f"an example has {longest} tokens > seq_len={seq_len}; truncate to max_len first")
        self.examples = list(examples)
        self.rows, self.seq_len, self.seed, self.pack, self.shuffle = rows, seq_len, seed, pack, shuffle
        self.epoch, self.index = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        n = len(self.examples)
        return np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def _advance(self) -> None:
        self.index += 1
        if self.index == len(self.examples):
            self.epoch, self.index = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)

    def next_batch(self):
        """(batch dict of [rows, seq_len] arrays, info {sequences, tokens, loss_tokens, epoch})."""
        row_docs = [[] for _ in range(self.rows)]
        r, used = 0, 0
        while r < self.rows:
            ex = self.examples[self._order[self.index]]
            n = len(ex[0])
            if row_docs[r] and (not self.pack or used + n > self.seq_len):
                r, used = r + 1, 0
                continue
            row_docs[r].append(ex)
            used += n
            self._advance()
        batch = build_batch(row_docs, self.rows, self.seq_len)
        info = {"sequences": sum(len(d) for d in row_docs),
                "tokens": int((batch["segment_ids"] > 0).sum()),
                "loss_tokens": int(batch["weights"].sum()),
                "epoch": self.epoch + self.index / len(self.examples)}
        return batch, info

    def __iter__(self):
        while True:
            yield self.next_batch()

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed,
                "num_examples": len(self.examples)}

    def load_state_dict(self, state: dict) -> None:
        if state.get("num_examples") != len(self.examples) or state.get("seed") != self.seed:
            raise ValueError(f"data iterator state {state} does not match this data set "
                             f"({len(self.examples)} examples, seed {self.seed}): resume needs the same data")
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self._order = self._permutation(self.epoch)
