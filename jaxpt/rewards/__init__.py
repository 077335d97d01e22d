"""Math answer verification: the RL reward and the evaluation grader.

    from jaxpt.rewards import verify, verify_batch, reward_fn, gold_answer, Grading

    verify("... so the answer is \\boxed{\\frac12}.", "0.5")          # True
    verify_batch(outputs, golds, timeout_s=3.0, workers=4)            # [True, False, ...]
    results, stats = verify_batch(outputs, golds, return_stats=True)  # stats of this call
    verify_batch(outputs, golds, grading="strict", truncated=flags)   # the sampler's cut-off flags
    reward_fn(responses, golds, truncated=flags)                      # float32 0/1, boxed only

Grading modes (``grading.py``): "strict" takes boxed answers only (the RL reward default);
"lenient" also takes final-answer markers, a bare answer, then the last math or number (the
evaluation default). ``truncated`` flags (``SampleOutput.truncated`` / ``~SampleState.done``: no
end-of-sequence token within the length limit) make an output score only through a complete,
explicit final answer, never through whatever the cut left last.

Pipeline: extract the final answer (``extract.py``), normalise it (``normalize.py``), decide the
common cases inline without sympy (``fastpath.py``), and send the rest to a persistent pool of
worker processes that run sympy/math-verify under a hard per-item time limit (``symbolic.py``,
``pool.py``). A timed-out or crashed item scores False and is counted in the stats.

Policies: percent in ``normalize.py`` (``50\\%`` equals ``50`` and ``0.5``; ``50`` does not equal
``0.5``); tolerance in ``tolerance.py`` (exact values exactly; decimals to a relative 5e-6, never an
absolute tolerance; rounded entries of tuples, intervals, matrices); sets vs lists vs tuples in
``sequences.py``; several boxes in ``boxes.py``; decimal commas, digit grouping, relation and
matrix spellings, money and units in ``notation.py``; clock times in ``clock.py``.

The module-level functions share one ``Verifier`` per worker count; it starts its processes on the
first item that needs sympy and stops them at interpreter exit (``shutdown()`` stops them now).
Workers come from a fork server (safe after jax is imported) and run only importable code: they
do not re-run the caller's main script (see ``pool.py`` for the Python versions this covers).
Importing this package loads no jax, numpy or sympy.
"""
from __future__ import annotations

import atexit
import threading

from jaxpt.rewards.extract import extract, extract_answer
from jaxpt.rewards.gold import gold_answer
from jaxpt.rewards.grading import EVAL_GRADING, GRADING_MODES, REWARD_GRADING, Grading, resolve_grading
from jaxpt.rewards.verifier import DEFAULT_TIMEOUT_S, STAT_KEYS, Verifier, default_workers

__all__ = [
    "verify", "verify_batch", "reward_fn", "gold_answer", "extract", "extract_answer", "get_verifier",
    "shutdown", "Verifier", "STAT_KEYS", "DEFAULT_TIMEOUT_S", "Grading", "GRADING_MODES", "resolve_grading",
    "REWARD_GRADING", "EVAL_GRADING",
]

_shared: dict[int, Verifier] = {}
_shared_lock = threading.Lock()


def get_verifier(workers: int | None = None) -> Verifier:
    """The shared Verifier with ``workers`` processes (default: ``default_workers()``)."""
    workers = workers or default_workers()
    with _shared_lock:
        if workers not in _shared:
            _shared[workers] = Verifier(workers=workers)
        return _shared[workers]


def verify(output, gold, strict: bool = False, timeout_s: float | None = None, grading=None,
           truncated: bool = False) -> bool:
    """Is the answer in ``output`` (a response or a bare answer) equivalent to ``gold``?"""
    return get_verifier().verify(output, gold, strict=strict, timeout_s=timeout_s, grading=grading,
                                 truncated=truncated)


def verify_batch(outputs, golds, timeout_s: float | None = None, workers: int | None = None,
                 strict: bool = False, return_stats: bool = False, grading=None, truncated=None):
    """Scores many pairs; returns ``list[bool]`` or ``(list[bool], stats_of_this_call)``.

    ``grading``: "strict" / "lenient" / ``Grading`` (default lenient; ``strict=True`` is the older
    spelling of "strict"). ``truncated``: one bool per output, True where the sampler cut it off.
    """
    return get_verifier(workers).verify_batch(
        outputs, golds, strict=strict, timeout_s=timeout_s, return_stats=return_stats, grading=grading,
        truncated=truncated,
    )


def reward_fn(responses, golds, strict: bool = True, timeout_s: float | None = None,
              workers: int | None = None, grading=None, truncated=None):
    """RL reward: float32 array of 1.0 (correct) / 0.0. Default grading "strict" (boxed answers only);
    ``grading`` overrides ``strict``. ``truncated``: the sampler's per-response cut-off flags."""
    import numpy as np

    results = verify_batch(responses, golds, timeout_s=timeout_s, workers=workers, strict=strict,
                           grading=grading, truncated=truncated)
    return np.asarray(results, dtype=np.float32)


def shutdown() -> None:
    """Stops the shared verifiers' worker processes (they restart on next use)."""
    with _shared_lock:
        verifiers = list(_shared.values())
        _shared.clear()
    for v in verifiers:
        v.close()


atexit.register(shutdown)
