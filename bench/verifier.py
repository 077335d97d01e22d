"""Verifier bench: jaxpt.rewards vs math-verify, same cases, one run.

    python -m bench.verifier [--workers N] [--timeout S]

1. Agreement with our hand-labelled pairs and cases/s, per category, for jaxpt
   (``Verifier.verify_batch``, lenient grading) and math-verify (``verify(parse(gold), parse(output))``,
   default config, bare answers wrapped in ``$...$``, single process), for both label files:
   tests/data/verifier_pairs.jsonl (the original pairs) and tests/data/verifier_pairs_field.jsonl
   (the forms other answer checkers test, issue 15). "false+" counts pairs labelled unequal that a
   side scored equal.
2. Throughput on every GSM8K and MATH500 gold answer checked against itself and against a copy
   with its numbers changed (each integer n -> n + 1), for both; the ratio jaxpt / math-verify.

jaxpt's pool is started before timing (in RL it is started once and reused). Every timed run starts
cold: jaxpt's memo and normalisation cache and math-verify's parse caches are cleared first.
Batches are sent whole, as the RL loop does.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections import defaultdict

from jaxpt.rewards import gold_answer
from jaxpt.rewards.extract import looks_bare
from jaxpt.rewards.verifier import Verifier, default_workers
from jaxpt.utils.runtime import REPO_ROOT, shared_dir

PAIR_FILES = (REPO_ROOT / "tests" / "data" / "verifier_pairs.jsonl",
              REPO_ROOT / "tests" / "data" / "verifier_pairs_field.jsonl")


def _wrap_for_math_verify(x) -> str:
    """math-verify's documented usage: a bare answer goes in as ``$answer$``."""
    text = x if isinstance(x, str) else repr(x)
    if "$" in text or "\\boxed" in text or "\\(" in text or not looks_bare(text):
        return text
    return f"${text}$"


def _clear_caches() -> None:
    """Every timed run starts cold: our normalisation memo and math-verify's parse caches."""
    from math_verify import parser as mv_parser

    from jaxpt.rewards.normalize import _normalize

    _normalize.cache_clear()
    for name in ("parse_latex_cached", "parse_expr_cached"):
        fn = getattr(mv_parser, name, None)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()


def _math_verify_all(outputs, golds) -> list[bool]:
    from math_verify import parse, verify

    out = []
    for o, g in zip(outputs, golds):
        try:
            out.append(bool(verify(parse(_wrap_for_math_verify(g)), parse(_wrap_for_math_verify(o)))))
        except Exception:
            out.append(False)
    return out


def _timed(fn, *args):
    _clear_caches()
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def _jaxpt_batch(workers, timeout_s, outputs, golds):
    v = Verifier(workers=workers, timeout_s=timeout_s)
    v.start()  # untimed: the RL loop starts its pool once
    results, seconds = _timed(v.verify_batch, outputs, golds)
    stats = v.stats
    v.close()
    return results, seconds, stats


def bench_pairs(path, workers, timeout_s) -> dict:
    pairs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_cat = defaultdict(list)
    for p in pairs:
        by_cat[p["category"]].append(p)
    # One pool for all categories (fresh memo per category): per-category timing without restarts.
    v = Verifier(workers=workers, timeout_s=timeout_s)
    v.start()
    rows, totals = [], defaultdict(float)
    mismatches = []
    for cat, items in sorted(by_cat.items()):
        outs, golds, labels = [p["output"] for p in items], [p["gold"] for p in items], [p["label"] for p in items]
        v._memo.clear()
        ours, t_ours = _timed(v.verify_batch, outs, golds)
        theirs, t_theirs = _timed(_math_verify_all, outs, golds)
        a_ours = sum(r == lab for r, lab in zip(ours, labels))
        a_theirs = sum(r == lab for r, lab in zip(theirs, labels))
        fp_ours = sum(r and not lab for r, lab in zip(ours, labels))
        fp_theirs = sum(r and not lab for r, lab in zip(theirs, labels))
        mismatches += [(cat, p, "jaxpt") for p, r in zip(items, ours) if r != p["label"]]
        rows.append((cat, len(items), a_ours, a_theirs, fp_ours, fp_theirs, len(items) / t_ours,
                     len(items) / t_theirs))
        for k, x in (("n", len(items)), ("a_ours", a_ours), ("a_theirs", a_theirs), ("t_ours", t_ours),
                     ("t_theirs", t_theirs), ("fp_ours", fp_ours), ("fp_theirs", fp_theirs),
                     ("negatives", sum(not lab for lab in labels))):
            totals[k] += x
    stats = v.stats
    v.close()
    print(f"\n== labelled pairs ({int(totals['n'])} cases, {path.relative_to(REPO_ROOT)}), "
          f"jaxpt with {workers} workers; m-v = math-verify 0.9 default config, one process")
    print(f"{'category':18s} {'n':>4s} {'agree jaxpt':>12s} {'agree m-v':>10s} {'false+ jaxpt':>13s} "
          f"{'false+ m-v':>11s} {'jaxpt/s':>9s} {'m-v/s':>8s}")
    for cat, n, ao, at, fo, ft, so, st in rows:
        flag = "" if ao >= at else "  <-- below math-verify"
        print(f"{cat:18s} {n:4d} {ao / n:12.1%} {at / n:10.1%} {fo:13d} {ft:11d} {so:9.0f} {st:8.0f}{flag}")
    n = totals["n"]
    print(f"{'ALL':18s} {int(n):4d} {totals['a_ours'] / n:12.1%} {totals['a_theirs'] / n:10.1%} "
          f"{int(totals['fp_ours']):13d} {int(totals['fp_theirs']):11d} {n / totals['t_ours']:9.0f} "
          f"{n / totals['t_theirs']:8.0f}")
    print(f"agreement: jaxpt {int(totals['a_ours'])}/{int(n)}, math-verify {int(totals['a_theirs'])}/{int(n)}; "
          f"false positives on {int(totals['negatives'])} unequal pairs: jaxpt {int(totals['fp_ours'])}, "
          f"math-verify {int(totals['fp_theirs'])}")
    print(f"jaxpt stats: fast_path={stats['fast_path']} symbolic_calls={stats['symbolic_calls']} "
          f"timeouts={stats['timeouts']} crashes={stats['crashes']}")
    for cat, p, who in mismatches:
        print(f"  {who} disagrees with label [{cat}]: output={p['output']!r} gold={p['gold']!r} label={p['label']}")
    return totals


_INT_RE = re.compile(r"\d+")


def perturb(answer: str) -> str:
    """Each integer n -> n + 1 (so 1/2 -> 2/3, (3, pi/2) -> (4, pi/3))."""
    return _INT_RE.sub(lambda m: str(int(m.group(0)) + 1), answer)


def _load_golds(name: str) -> list[str]:
    path = shared_dir() / "data" / "bench" / name / "test.jsonl"
    return [gold_answer(name, json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def bench_gold_throughput(workers, timeout_s) -> None:
    print("\n== benchmark gold answers (self = gold vs itself, perturbed = gold vs numbers+1)")
    print(f"{'set':22s} {'n':>5s} {'jaxpt/s':>9s} {'m-v/s':>8s} {'ratio':>6s} {'jaxpt True':>10s} {'m-v True':>9s}")
    t_ours_all = t_theirs_all = n_all = 0.0
    for name in ("gsm8k", "math500"):
        golds = _load_golds(name)
        for kind, outputs in (("self", list(golds)), ("perturbed", [perturb(g) for g in golds])):
            ours, t_ours, _ = _jaxpt_batch(workers, timeout_s, outputs, golds)
            theirs, t_theirs = _timed(_math_verify_all, outputs, golds)
            n = len(golds)
            n_all += n
            t_ours_all += t_ours
            t_theirs_all += t_theirs
            print(f"{name + ' ' + kind:22s} {n:5d} {n / t_ours:9.0f} {n / t_theirs:8.0f} "
                  f"{t_theirs / t_ours:6.1f} {sum(ours):10d} {sum(theirs):9d}")
    print(f"{'ALL':22s} {int(n_all):5d} {n_all / t_ours_all:9.0f} {n_all / t_theirs_all:8.0f} "
          f"{t_theirs_all / t_ours_all:6.1f}")
    print(f"throughput ratio jaxpt / math-verify (single process) on benchmark answers: "
          f"{t_theirs_all / t_ours_all:.1f}x (target >= 5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    for path in PAIR_FILES:
        bench_pairs(path, args.workers, args.timeout)
    bench_gold_throughput(args.workers, args.timeout)
    print(f"\nbench time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
