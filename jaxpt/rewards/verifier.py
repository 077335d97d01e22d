"""The grader: extraction -> normalisation -> fast path -> (if needed) sympy in a worker pool.

The fast path runs inline in the caller and, without importing sympy, decides numbers, constant
LaTeX, polynomial/rational-function identities, expressions that differ at a sample point, and
tuples / intervals / sets / matrices of those. Only undecided items go to the pool, deduplicated
within a batch and memoised across batches (RL groups repeat the same answers a lot). Every
symbolic item has a hard time limit; a timed-out or crashed item scores False and is counted.

An output may offer more than one reading of its answer (several boxes that may form one list:
``boxes.py``); it is correct when any reading is. Outputs flagged ``truncated`` (cut at the length
limit) are graded by ``grading.py``'s rule for them.

Policies: percent in ``normalize.py``, tolerance in ``tolerance.py``, spellings in ``notation.py``,
sets / lists / tuples and rounding in ``sequences.py``, several boxes in ``boxes.py``.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

from jaxpt.rewards.extract import NO_ANSWER, Extraction, extract, extract_gold, looks_bare
from jaxpt.rewards.fastpath import compare_answers
from jaxpt.rewards.grading import Grading, resolve_grading
from jaxpt.rewards.normalize import Answer, normalize
from jaxpt.rewards.pool import CRASH, ERROR, OK, TIMEOUT, WorkerPool
from jaxpt.rewards.structure import is_multi_valued

SYMBOLIC_FN = "jaxpt.rewards.symbolic:symbolic_equal"
WORKER_INIT = "jaxpt.rewards.symbolic:warm_up"
WORKER_PRELOAD = ("jaxpt.rewards.worker_preload",)
DEFAULT_TIMEOUT_S = 3.0

STAT_KEYS = (
    "items",  # pairs scored
    "correct",  # pairs scored True
    "no_answer",  # nothing extracted from the output (or an unusable gold)
    "unparsable",  # nothing left after normalisation, or longer than MAX_ANSWER_CHARS
    "fast_path",  # decided without sympy
    "symbolic_calls",  # pairs sent to a worker
    "symbolic_cached",  # pairs answered from the memo / a duplicate in the same batch
    "timeouts",  # symbolic pairs that ran out of time (scored False)
    "crashes",  # symbolic pairs whose worker died (scored False)
    "errors",  # symbolic pairs that raised inside the worker (scored False)
    "worker_restarts",  # workers replaced (per call: after this call's timeouts and crashes)
)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _as_text(x) -> str | None:
    if isinstance(x, str):
        return x
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="replace")
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return repr(x)
    return None


class Verifier:
    """Scores (output, gold) pairs. Thread-safe; owns a lazily started worker pool.

    ``grading`` ("strict" / "lenient", see ``grading.py``; the older ``strict=True`` means "strict")
    says which parts of an output may count as its answer. ``truncated`` (one flag per output, from
    the sampler) marks outputs cut at the length limit: they score only through a complete, explicit
    final answer.
    """

    def __init__(self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 mem_limit_mb: int = 2048, start_method: str | None = None, memo_size: int = 100_000):
        self.workers = workers or default_workers()
        self.timeout_s = timeout_s
        self._pool_kwargs = dict(preload=WORKER_PRELOAD, init=WORKER_INIT, mem_limit_mb=mem_limit_mb,
                                 start_method=start_method)
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self._memo: OrderedDict = OrderedDict()
        self._memo_size = memo_size
        self._closed_restarts = 0

    # -- pool ---------------------------------------------------------------------------------
    @property
    def pool(self) -> WorkerPool:
        with self._lock:
            if self._pool is None or self._pool.closed:
                if self._pool is not None:
                    self._closed_restarts += self._pool.stats["restarts"]
                self._pool = WorkerPool(self.workers, **self._pool_kwargs)
            return self._pool

    def start(self) -> "Verifier":
        """Starts the workers now (otherwise the first symbolic item does) and waits until ready."""
        self.pool.warm()
        return self

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None:
                self._closed_restarts += pool.stats["restarts"]
        if pool is not None:
            pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def stats(self) -> dict:
        """Counters since creation (see STAT_KEYS). ``worker_restarts`` is the pool's own count, so it
        also includes workers found dead while idle (killed from outside)."""
        with self._lock:
            out = dict(self._stats)
            pool = self._pool
            out["worker_restarts"] = self._closed_restarts + (pool.stats["restarts"] if pool else 0)
            return out

    def _add(self, delta: dict) -> None:
        with self._lock:
            for k, v in delta.items():
                self._stats[k] += v

    # -- scoring ------------------------------------------------------------------------------
    def _prepare(self, output, gold, grading: Grading, truncated: bool, delta: dict):
        """-> bool verdict, or the (gold Answer, pred Answer) readings still to decide symbolically."""
        out_text, gold_text = _as_text(output), _as_text(gold)
        if isinstance(output, (int, float)) and not isinstance(output, bool):
            found = Extraction(out_text)  # a bare numeric answer, nothing to extract
        elif (grading is Grading.LENIENT and not truncated and out_text is not None and gold_text is not None
              and out_text.strip() and out_text.strip() == gold_text.strip() and not looks_bare(out_text)):
            delta["fast_path"] += 1
            return True  # the gold itself, written as a sentence (a bare gold takes the usual path)
        else:
            found = extract(out_text, grading, truncated) if out_text is not None else NO_ANSWER
        gold_raw = extract_gold(gold) if gold_text is not None else None
        if found.answer is None or gold_raw is None:
            delta["no_answer"] += 1
            return False
        ref = normalize(gold_raw)
        preds = [found.answer]
        if found.group and ref is not None and is_multi_valued(ref):
            joined = ", ".join(found.group)
            if joined != found.answer:
                preds.append(joined)  # "\boxed{3} and ... \boxed{11}" against a gold "3, 11"
        readings = [(ref, p) for p in (normalize(x) for x in preds) if p is not None]
        if ref is None or not readings:
            delta["unparsable"] += 1
            return False
        undecided = []
        for reading in readings:
            verdict = compare_answers(*reading)
            if verdict is True:
                delta["fast_path"] += 1
                return True
            if verdict is None:
                undecided.append(reading)
        if not undecided:
            delta["fast_path"] += 1
            return False
        return undecided

    def verify(self, output, gold, strict: bool = False, timeout_s: float | None = None, grading=None,
               truncated: bool = False) -> bool:
        return self.verify_batch([output], [gold], strict=strict, timeout_s=timeout_s, grading=grading,
                                 truncated=[truncated])[0]

    def verify_batch(self, outputs, golds, strict: bool = False, timeout_s: float | None = None,
                     return_stats: bool = False, grading=None, truncated=None):
        """Scores pairs in parallel. Returns a list of bools, or (list, stats of this call).

        ``grading``: "strict" / "lenient" / a ``Grading`` (default: lenient, or strict when
        ``strict=True``). ``truncated``: per-output flags (a list or array of bools; None = none cut).
        """
        outputs, golds = list(outputs), list(golds)
        if len(outputs) != len(golds):
            raise ValueError(f"{len(outputs)} outputs but {len(golds)} golds")
        cut = [False] * len(outputs) if truncated is None else [bool(t) for t in truncated]
        if len(cut) != len(outputs):
            raise ValueError(f"{len(outputs)} outputs but {len(cut)} truncated flags")
        mode = resolve_grading(grading, strict)
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        delta = dict.fromkeys(STAT_KEYS, 0)
        results: list = [False] * len(outputs)
        todo: dict[tuple[Answer, Answer], list[int]] = {}
        for i, (out, gold) in enumerate(zip(outputs, golds)):
            prepared = self._prepare(out, gold, mode, cut[i], delta)
            if isinstance(prepared, bool):
                results[i] = prepared
            else:
                for reading in prepared:
                    todo.setdefault(reading, []).append(i)
        if todo:
            self._decide_symbolic(todo, results, timeout_s, delta)
        delta["items"] = len(outputs)
        delta["correct"] = sum(results)
        self._add(delta)
        return (results, delta) if return_stats else results

    def _decide_symbolic(self, todo, results, timeout_s, delta) -> None:
        keys = []
        with self._lock:
            for key, idx in todo.items():
                if key in self._memo:
                    self._memo.move_to_end(key)
                    for i in idx:
                        results[i] = results[i] or self._memo[key]
                    delta["symbolic_cached"] += len(idx)
                else:
                    keys.append(key)
        if not keys:
            return
        args = [(r.text, r.percent, r.is_text, p.text, p.percent, p.is_text) for r, p in keys]
        outcomes = self.pool.run(SYMBOLIC_FN, args, timeout_s)
        for key, (status, value) in zip(keys, outcomes):
            idx = todo[key]
            delta["symbolic_calls"] += 1
            delta["symbolic_cached"] += len(idx) - 1
            verdict = status == OK and value is True
            if status == TIMEOUT:
                delta["timeouts"] += 1
                delta["worker_restarts"] += 1
            elif status == CRASH:
                delta["crashes"] += 1
                delta["worker_restarts"] += 1
            elif status == ERROR:
                delta["errors"] += 1
            for i in idx:
                results[i] = results[i] or verdict  # an output is right when any reading is
            if status in (OK, ERROR):  # deterministic outcomes only; a timeout may be load
                with self._lock:
                    self._memo[key] = verdict
                    if len(self._memo) > self._memo_size:
                        self._memo.popitem(last=False)
