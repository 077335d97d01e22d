"""Metrics over k samples per problem: pass@1 (= avg@k, the mean correctness), unbiased pass@k (Codex
estimator), maj@k (majority vote over extracted answers), and a count-weighted overall across benchmarks."""
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021).

    Computed as a product (no huge binomials): 1 - prod_{i=n-c+1}^{n} (1 - k / i)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, have {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_ks(k: int) -> List[int]:
    """The pass@j reported for k samples: powers of two below k, and k."""
    ks, j = [], 1
    while j < k:
        ks.append(j)
        j *= 2
    return ks + [k]


def majority_correct(answers: Sequence[Optional[str]], correct: Sequence[bool]) -> bool:
    """Is the most frequent extracted answer (ties: the one seen first; None never wins) correct?"""
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return False
    top = max(votes.values())
    winner = next(a for a in answers if a is not None and votes[a] == top)
    return bool(any(c for a, c in zip(answers, correct) if a == winner))


def benchmark_metrics(correct: np.ndarray, answers: List[List[Optional[str]]]) -> Dict[str, float]:
    """correct [P, k] bool; answers [P][k] vote keys. Metrics averaged over the P problems."""
    correct = np.asarray(correct, bool)
    p, k = correct.shape
    if p == 0:
        return {"num_problems": 0, "k": k}
    c = correct.sum(axis=1)
    out = {"num_problems": int(p), "k": int(k), "pass@1": float(np.mean(c / k)), f"avg@{k}": float(np.mean(c / k))}
    for j in pass_ks(k)[1:]:
        out[f"pass@{j}"] = float(np.mean([pass_at_k(k, int(ci), j) for ci in c]))
    out[f"maj@{k}"] = float(np.mean([majority_correct(a, r) for a, r in zip(answers, correct)]))
    return out


def overall_metrics(per_benchmark: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    """Count-weighted mean over benchmarks of every metric they all report (the paper's overall)."""
    parts = [m for m in per_benchmark.values() if m.get("num_problems", 0) > 0]
    if not parts:
        return {"num_problems": 0}
    weights = np.array([m["num_problems"] for m in parts], float)
    shared = [key for key in parts[0] if key not in ("num_problems", "k")
              and all(key in m for m in parts)]
    out = {"num_problems": int(weights.sum())}
    for key in shared:
        out[key] = float(np.dot(weights, [m[key] for m in parts]) / weights.sum())
    return out
