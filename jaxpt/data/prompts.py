"""Prompt sets: prompt records with their expert trajectories, tokenization, and a resumable prompt iterator
(the records themselves come from jaxpt.data.roles). RL samples from them; evaluation may use them too.

Records are dicts {question, answer, solution?}. Expert-mixing algorithms (LUFFY / SRFT / UPT) train on
prompts that carry expert solutions: the same records the SFT stage trains on; several records with the
same question give several expert trajectories for that prompt.
"""
import dataclasses
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from jaxpt.data.formatting import PromptFormat, encode_examples, encode_prompts


def attach_experts(prompts: Sequence[dict], experts: Sequence[dict]) -> List[dict]:
    """Prompt records with `solutions` from expert records of the same question (prompts without one are
    dropped). Passing experts alone (prompts=None) makes one prompt per distinct expert question."""
    by_q: Dict[str, List[str]] = {}
    first: Dict[str, dict] = {}
    for r in experts:
        by_q.setdefault(r["question"], []).append(r["solution"])
        first.setdefault(r["question"], r)
    base = list(first.values()) if prompts is None else list(prompts)
    out = []
    for r in base:
        sols = by_q.get(r["question"])
        if sols:
            out.append({**r, "solutions": sols})
    if not out:
        raise ValueError("no prompt has an expert trajectory (questions must match exactly)")
    if prompts is not None and len(out) < len(base):
        logging.info("%d of %d prompts have no expert trajectory and are dropped", len(base) - len(out), len(base))
    return out


def prompts_from_experts(prompts: Optional[Sequence[dict]], experts: Sequence[dict]) -> List[dict]:
    """The prompt set of an expert-mixing algorithm: the expert records' questions (with their solutions).

    With `prompts` too, only expert questions among them are kept, unless none is (an RL prompt pool that is
    disjoint from the SFT data, as the toy task's is): then every expert question is a prompt, as the
    synchronized SFT+RL baselines train RL on the expert data set's questions.
    """
    if prompts is not None:
        wanted = {r["question"] for r in prompts}
        if any(r["question"] in wanted for r in experts):
            return attach_experts(prompts, experts)
        logging.info("no RL prompt has an expert trajectory: using the %d expert records' questions as prompts",
                     len(experts))
    return attach_experts(None, experts)


def with_solutions(records: Sequence[dict]) -> List[dict]:
    """Groups records by question into prompts carrying `solutions` (for expert-mixing algorithms)."""
    if all("solutions" in r for r in records):
        return list(records)
    missing = [i for i, r in enumerate(records) if not r.get("solution")]
    if missing:
        raise ValueError(f"expert-mixing algorithms need a solution in every prompt record; record {missing[0]} "
                         "has none (set data.expert_source)")
    return attach_experts(None, records)


@dataclasses.dataclass
class PromptSet:
    """Tokenized prompts (unpadded id lists), answers, and expert response ids per prompt (lazily)."""
    records: List[dict]
    prompt_ids: List[List[int]]
    answers: List[str]
    tokenizer: object = dataclasses.field(repr=False, default=None)
    fmt: PromptFormat = PromptFormat()
    stop_ids: tuple = ()
    _expert_cache: Dict[int, List[np.ndarray]] = dataclasses.field(default_factory=dict, repr=False)

    def __len__(self):
        return len(self.records)

    def expert_ids(self, i: int) -> List[np.ndarray]:
        """Expert response token ids (through the stop token) of prompt i."""
        if i not in self._expert_cache:
            rec = self.records[i]
            sols = rec.get("solutions") or ([rec["solution"]] if rec.get("solution") else [])
            if not sols:
                raise ValueError(f"prompt {i} ({rec['question'][:60]!r}) has no expert solution")
            ex = encode_examples(self.tokenizer, [rec["question"]] * len(sols), sols, self.fmt, self.stop_ids)
            self._expert_cache[i] = [ids[mask] for ids, mask in ex]
        return self._expert_cache[i]


def tokenize_prompts(records: Sequence[dict], tokenizer, fmt: PromptFormat, max_prompt_len: int = 0,
                     stop_ids=(), drops=None) -> Tuple[PromptSet, int]:
    """(PromptSet of records that fit, number dropped). Records without an answer or longer than max_prompt_len
    are dropped, each counted in `drops` (a jaxpt.data.drops.Drops) with its file:line when given."""
    from jaxpt.data.sources import record_where

    answered = [r for r in records if r.get("answer") not in (None, "")]
    if drops is not None:
        for r in records:
            if r.get("answer") in (None, ""):
                drops.add("no answer", record_where(r))
    records = answered
    ids = encode_prompts(tokenizer, [r["question"] for r in records], fmt)
    keep = [i for i, x in enumerate(ids) if not max_prompt_len or len(x) <= max_prompt_len]
    dropped = len(records) - len(keep)
    if dropped:
        logging.info("dropped %d prompts longer than %d tokens", dropped, max_prompt_len)
        if drops is not None:
            kept = set(keep)
            for i in (i for i in range(len(records)) if i not in kept):
                drops.add("too long", record_where(records[i]))
    recs = [records[i] for i in keep]
    return PromptSet(recs, [list(map(int, ids[i])) for i in keep], [str(r["answer"]) for r in recs], tokenizer,
                     fmt, tuple(stop_ids)), dropped


class PromptIterator:
    """Endless, deterministic, resumable stream of prompt indices: epoch e visits the prompts in the
    permutation drawn from default_rng([seed, e]). The whole position is (epoch, index)."""

    def __init__(self, num: int, seed: int = 0, shuffle: bool = True):
        if num <= 0:
            raise ValueError("no RL prompts")
        self.num, self.seed, self.shuffle = num, seed, shuffle
        self.epoch, self.index = 0, 0
        self._order = self._perm(0)

    def _perm(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(self.num) if self.shuffle else np.arange(self.num)

    def take(self, n: int) -> np.ndarray:
        out = []
        for _ in range(n):
            out.append(int(self._order[self.index]))
            self.index += 1
            if self.index == self.num:
                self.epoch, self.index = self.epoch + 1, 0
                self._order = self._perm(self.epoch)
        return np.asarray(out, np.int64)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed, "num": self.num}

    def load_state_dict(self, st: dict) -> None:
        if int(st["num"]) != self.num or int(st["seed"]) != self.seed:
            raise ValueError(f"prompt iterator state {st} does not match {self.num} prompts / seed {self.seed}")
        self.epoch, self.index = int(st["epoch"]), int(st["index"])
        self._order = self._perm(self.epoch)
