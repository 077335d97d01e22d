"""The one evaluator every stage uses: a model's score on the config's evaluation sets.

    scorer = Scorer.from_config(cfg, tokenizer)           # eval.benchmarks and/or eval.source
    s = scorer(model)    # Score(overall=0.41, per={"gsm8k": 0.43, "math500": 0.36}, counts={...})

All sets are generated in one pass (jaxpt.eval.evaluate.run_problems: sorted by prompt length, shared compiled
programs), with the job's prompt format, and graded by jaxpt.rewards. `overall` is the count-weighted mean
over sets (a micro-average over problems, as the paper's overall).
"""
import dataclasses
from typing import Dict, List, Optional

import numpy as np


@dataclasses.dataclass
class Score:
    overall: float
    per: Dict[str, float]  # set name -> pass@1 (avg@n)
    counts: Dict[str, int]  # set name -> problems
    truncated: float = 0.0  # share of outputs cut at the length limit
    seconds: float = 0.0

    def as_metrics(self, prefix: str = "eval") -> dict:
        out = {f"{prefix}/accuracy": self.overall, f"{prefix}/truncated": self.truncated}
        out.update({f"{prefix}/{name}": v for name, v in self.per.items()})
        return out


class Scorer:
    def __init__(self, sets: Dict[str, List[dict]], tokenizer, fmt, max_new_tokens: int = 1024,
                 temperature: float = 0.0, top_p: float = 1.0, n: int = 1, batch_size: int = 64, seed: int = 0,
                 verify_timeout_s: Optional[float] = None, verify_workers: Optional[int] = None,
                 progress: bool = False, grading: str = "lenient"):
        if not sets or not any(sets.values()):
            raise ValueError("no evaluation problems: set eval.benchmarks and/or eval.source")
        self.sets, self.tokenizer, self.fmt = sets, tokenizer, fmt
        self.kw = dict(k=int(n), temperature=float(temperature), top_p=float(top_p), max_new_tokens=int(max_new_tokens),
                       batch_size=int(batch_size), seed=int(seed), verify_timeout_s=verify_timeout_s,
                       verify_workers=verify_workers, progress=progress, grading=grading)
        self.grading = grading
        self.records = [dict(r, benchmark=name) for name, recs in sets.items() for r in recs]
        self.last_problems: List[dict] = []

    @classmethod
    def from_config(cls, cfg, tokenizer, sets: Optional[Dict[str, List[dict]]] = None, progress: bool = False,
                    verify_timeout_s: Optional[float] = None, verify_workers: Optional[int] = None) -> "Scorer":
        from jaxpt.data.formatting import PromptFormat
        from jaxpt.data.roles import eval_sets

        e = cfg.eval
        return cls(sets if sets is not None else eval_sets(cfg), tokenizer, PromptFormat.from_config(cfg.prompt),
                   max_new_tokens=e.max_new_tokens, temperature=e.temperature, top_p=e.top_p, n=e.n,
                   batch_size=e.batch_size, seed=e.seed, verify_timeout_s=verify_timeout_s,
                   verify_workers=verify_workers, progress=progress, grading=e.grading)

    @property
    def counts(self) -> Dict[str, int]:
        return {name: len(recs) for name, recs in self.sets.items()}

    def prompt_ids(self, question: str) -> List[int]:
        from jaxpt.data.formatting import encode_prompts

        return list(encode_prompts(self.tokenizer, [question], self.fmt)[0])

    def __call__(self, model) -> Score:
        import time

        from jaxpt.eval.evaluate import run_problems

        t0 = time.perf_counter()
        kw = dict(self.kw)
        k = kw.pop("k")
        problems = run_problems(model, self.tokenizer, self.records, k=k, prompt_fn=self.prompt_ids, **kw)
        self.last_problems = problems
        per, counts = {}, {}
        for name in self.sets:
            mine = [p for p in problems if p["benchmark"] == name]
            counts[name] = len(mine)
            per[name] = float(np.mean([np.mean(p["correct"]) for p in mine])) if mine else float("nan")
        total = sum(counts.values())
        overall = sum(per[n] * counts[n] for n in per if counts[n]) / max(total, 1)
        trunc = float(np.mean([np.mean(p["truncated"]) for p in problems])) if problems else 0.0
        return Score(float(overall), per, counts, trunc, time.perf_counter() - t0)
