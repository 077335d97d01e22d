"""Evaluation: sample k completions per problem with the in-graph sampler, grade them with jaxpt.rewards,
and compute pass@1 / avg@k / pass@k / maj@k.

    result = evaluate(model, tokenizer, records, k=4, temperature=0.7, max_new_tokens=1024)
    results, overall = evaluate_benchmarks(model, tokenizer, ["gsm8k", "math500"], limit=50)

Problems are sorted by prompt length and generated in batches, all benchmarks together, so batches hold
similar lengths and the sampler's shape buckets (and compiled programs) are shared.

Grading: `grading` is a jaxpt.rewards grading mode ("lenient" by default, "strict" = boxed answers only),
recorded in each result's settings. Outputs the sampler cut off at max_new_tokens are graded as truncated:
they score only through an explicit, complete final answer (jaxpt/rewards/grading.py).
"""
import dataclasses
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from jaxpt.eval.metrics import benchmark_metrics, overall_metrics


@dataclasses.dataclass
class EvalResult:
    """One benchmark (or record list): metrics and every problem's outputs."""
    name: str
    metrics: Dict[str, float]
    problems: List[dict]  # id, question, gold, outputs [k], answers [k], correct [k], lengths [k], truncated [k]
    settings: dict
    seconds: float = 0.0


def _answer_key(text: str, grading: str = "lenient", truncated: bool = False) -> Optional[str]:
    """The extracted, normalised answer used for majority voting (None when nothing was extracted)."""
    from jaxpt.rewards import extract_answer

    ans = extract_answer(text, grading=grading, truncated=truncated)
    if ans is None:
        return None
    try:
        from jaxpt.rewards.normalize import normalize

        norm = normalize(ans)
        return norm.text if norm is not None else ans.strip()
    except Exception:  # noqa: BLE001  (voting is best effort; grading does not depend on it)
        return ans.strip()


def stop_ids(model, tokenizer) -> Tuple[int, ...]:
    """The model's EOS ids plus the tokenizer's end-of-turn tokens (a chat model stops on <|im_end|>)."""
    ids = set(int(i) for i in model.config.eos_token_ids)
    try:
        from jaxpt.data.tokenizer import stop_token_ids

        ids.update(stop_token_ids(tokenizer))
    except ImportError:
        if tokenizer.eos_token_id is not None:
            ids.add(int(tokenizer.eos_token_id))
    return tuple(sorted(i for i in ids if i < model.config.vocab_size))


def generate_all(model, prompts: Sequence[List[int]], k: int, max_new_tokens: int, temperature: float,
                 top_p: float, top_k: int, batch_size: int, eos_ids, pad_id: int, seed: int,
                 progress: bool = True, desc: str = "eval"):
    """k samples for each prompt; returns per prompt (list of k token lists, [k] truncated flags).

    batch_size counts sequences per sampler call (prompts per call = batch_size // samples drawn per prompt);
    every call is padded to the same batch so one compiled program serves all of them (per prompt-length
    bucket). Greedy samples are all the same: one is drawn per prompt and repeated k times."""
    from tqdm.auto import tqdm

    n = 1 if temperature == 0 else k
    per_call = max(1, batch_size // n)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))  # longest first: fail early on OOM
    tokens_out: List[Optional[list]] = [None] * len(prompts)
    trunc_out: List[Optional[list]] = [None] * len(prompts)
    bar = tqdm(total=len(prompts), desc=desc, disable=not progress, unit="problem")
    new_tokens, t0 = 0, time.perf_counter()
    for b, start in enumerate(range(0, len(order), per_call)):
        idx = order[start:start + per_call]
        out = model.generate([prompts[i] for i in idx], max_new_tokens, temperature=temperature, top_p=top_p,
                             top_k=top_k, n=n, eos_ids=eos_ids, seed=seed + b, pad_id=pad_id,
                             pad_batch_to=per_call)
        comps = out.completions()
        for j, i in enumerate(idx):
            tokens_out[i] = (comps[j * n:(j + 1) * n] * k)[:k]
            trunc_out[i] = (out.truncated[j * n:(j + 1) * n].tolist() * k)[:k]
        new_tokens += int(out.lengths.sum())
        bar.update(len(idx))
        bar.set_postfix(tok_s=f"{new_tokens / max(time.perf_counter() - t0, 1e-9):.0f}")
    bar.close()
    return tokens_out, trunc_out


def _grade(problems: List[dict], timeout_s: Optional[float], workers: Optional[int], grading: str) -> None:
    from jaxpt.rewards import verify_batch

    outputs = [o for p in problems for o in p["outputs"]]
    golds = [p["gold"] for p in problems for _ in p["outputs"]]
    cut = [t for p in problems for t in p["truncated"]]
    flags = verify_batch(outputs, golds, timeout_s=timeout_s, workers=workers, grading=grading,
                         truncated=cut) if outputs else []
    pos = 0
    for p in problems:
        n = len(p["outputs"])
        p["correct"] = [bool(f) for f in flags[pos:pos + n]]
        p["answers"] = [_answer_key(o, grading, t) for o, t in zip(p["outputs"], p["truncated"])]
        pos += n


def run_problems(model, tokenizer, records: Sequence[dict], k: int = 1, temperature: float = 0.0,
                 top_p: float = 1.0, top_k: int = 0, max_new_tokens: int = 1024, batch_size: int = 64,
                 prompt_fn: Optional[Callable[[str], List[int]]] = None, seed: int = 0,
                 progress: bool = True, verify_timeout_s: Optional[float] = None,
                 verify_workers: Optional[int] = None, grading: str = "lenient") -> List[dict]:
    """Generates, decodes and grades; returns one dict per record (in order)."""
    from jaxpt.eval.prompts import make_prompt_fn
    from jaxpt.rewards.grading import resolve_grading

    grading = resolve_grading(grading).value  # fail on a misspelt mode before generating

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    prompt_fn = prompt_fn or make_prompt_fn(tokenizer)
    prompts = [list(prompt_fn(r["question"])) for r in records]
    eos = stop_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos[0] if eos else 0)
    tokens, truncated = generate_all(model, prompts, k, max_new_tokens, temperature, top_p, top_k, batch_size,
                                     eos, int(pad), seed, progress)
    problems = []
    for rec, prompt, toks, trunc in zip(records, prompts, tokens, truncated):
        problems.append({
            "id": rec.get("id"), "benchmark": rec.get("benchmark"), "question": rec["question"],
            "gold": str(rec["answer"]), "prompt_tokens": len(prompt),
            "outputs": tokenizer.batch_decode(toks, skip_special_tokens=True),
            "lengths": [len(t) for t in toks], "truncated": [bool(x) for x in trunc]})
    _grade(problems, verify_timeout_s, verify_workers, grading)
    return problems


def _metrics(problems: List[dict], k: int) -> Dict[str, float]:
    correct = np.array([p["correct"] for p in problems], bool).reshape(len(problems), k)
    m = benchmark_metrics(correct, [p["answers"] for p in problems])
    if problems:
        m["mean_length"] = float(np.mean([np.mean(p["lengths"]) for p in problems]))
        m["truncated"] = float(np.mean([np.mean(p["truncated"]) for p in problems]))
    return m


def evaluate(model, tokenizer, records: Sequence[dict], k: int = 1, temperature: float = 0.0,
             max_new_tokens: int = 1024, batch_size: int = 64,
             prompt_fn: Optional[Callable[[str], List[int]]] = None, top_p: float = 1.0, top_k: int = 0,
             seed: int = 0, name: str = "records", progress: bool = True,
             verify_timeout_s: Optional[float] = None, verify_workers: Optional[int] = None,
             grading: str = "lenient") -> EvalResult:
    """Evaluates `records` ({question, answer} dicts) with k samples each. batch_size = sequences per call."""
    t0 = time.perf_counter()
    settings = dict(k=k, temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
                    batch_size=batch_size, seed=seed, grading=str(grading))
    problems = run_problems(model, tokenizer, records, k, temperature, top_p, top_k, max_new_tokens, batch_size,
                            prompt_fn, seed, progress, verify_timeout_s, verify_workers, grading)
    return EvalResult(name, _metrics(problems, k), problems, settings, time.perf_counter() - t0)


def evaluate_benchmarks(model, tokenizer, names: Sequence[str], limit: Optional[int] = None, k: int = 1,
                        temperature: float = 0.0, max_new_tokens: int = 1024, batch_size: int = 64,
                        prompt_fn=None, top_p: float = 1.0, top_k: int = 0, seed: int = 0, root=None,
                        progress: bool = True, verify_timeout_s: Optional[float] = None,
                        verify_workers: Optional[int] = None,
                        grading: str = "lenient") -> Tuple[Dict[str, EvalResult], Dict[str, float]]:
    """Benchmarks by name (see benchmarks.BENCHMARKS); returns ({name: EvalResult}, overall metrics) where
    overall is the count-weighted mean over benchmarks. `grading`: "lenient" or "strict" (module doc)."""
    from jaxpt.eval.benchmarks import load_benchmark

    t0 = time.perf_counter()
    records = [r for name in names for r in load_benchmark(name, root, limit)]
    settings = dict(k=k, temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
                    batch_size=batch_size, seed=seed, limit=limit, grading=str(grading))
    problems = run_problems(model, tokenizer, records, k, temperature, top_p, top_k, max_new_tokens, batch_size,
                            prompt_fn, seed, progress, verify_timeout_s, verify_workers, grading)
    seconds = time.perf_counter() - t0
    results = {}
    for name in names:
        mine = [p for p in problems if p["benchmark"] == name]
        results[name] = EvalResult(name, _metrics(mine, k), mine, settings, seconds)
    return results, overall_metrics({n: r.metrics for n, r in results.items()})
