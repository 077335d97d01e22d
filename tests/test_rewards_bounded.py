"""Bounded time and robustness of the Verifier: adversarial inputs, calls from other threads,
killed workers, and the stats that count all of it."""
import os
import signal
import threading
import time

import pytest

from jaxpt.rewards.verifier import Verifier

TIMEOUT = 1.0
WORKERS = 2

ADVERSARIAL = [
    ("10^{10^{10^{10}}}", "2"),  # sympy computes a 10^10-digit integer: times out
    ("\\frac{1}{" * 300 + "2" + "}" * 300, "1"),  # deeply nested fractions
    ("\\boxed{(10^{6})!}", "5"),  # huge factorials
    ("\\boxed{1000000!}", "5"),
    ("\\boxed{\\frac{1}{2}", "0.5"),  # unbalanced braces
    ("}{" * 5000, "1"),
    ("\\boxed{" * 20000, "1"),
    ("x" * 1_000_000, "3"),  # a megabyte of text
    ("The answer is " + "9" * 1_000_000, "3"),
    ("\\boxed{" + "1+" * 100_000 + "1}", "3"),
    (bytes(range(256)).decode("latin-1") * 4000, "3"),  # binary garbage
    ("\x00\x01\x02\xff\xfe", "\x00"),
    ("\\sqrt{" * 500 + "2" + "}" * 500, "2"),
    ("\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "3"),
    ("\\boxed{9^{9^{9}}}", "9^{9^{9}}+1"),
    ("\\boxed{\\left(" * 200 + "x" + "\\right)" * 200 + "}", "x"),
]


@pytest.fixture(scope="module")
def verifier():
    v = Verifier(workers=WORKERS, timeout_s=TIMEOUT)
    v.start()
    yield v
    v.close()


def _bound(n_items: int) -> float:
    # (items / workers) x timeout, plus overhead for parent-side work and worker replacement
    return n_items / WORKERS * TIMEOUT + 8.0


def test_adversarial_batch_is_bounded_and_scored_false(verifier):
    t0 = time.monotonic()
    results, stats = verifier.verify_batch(
        [o for o, _ in ADVERSARIAL], [g for _, g in ADVERSARIAL], return_stats=True
    )
    elapsed = time.monotonic() - t0
    assert elapsed < _bound(len(ADVERSARIAL)), elapsed
    assert all(isinstance(r, bool) for r in results)
    assert results[0] is False
    assert results[14] is False  # 9^(9^9) is not 9^(9^9) + 1, however big
    assert stats["worker_restarts"] == stats["timeouts"] + stats["crashes"]


def test_each_adversarial_item_alone_is_bounded():
    with Verifier(workers=WORKERS, timeout_s=TIMEOUT, memo_size=0) as fresh:  # no memo: real work
        for output, gold in ADVERSARIAL:
            t0 = time.monotonic()
            result = fresh.verify(output, gold)
            assert isinstance(result, bool)
            assert time.monotonic() - t0 < TIMEOUT + 5.0, output[:40]


def test_timeouts_are_counted_and_the_pool_recovers(verifier):
    before = verifier.stats
    assert verifier.verify("10^{10^{10^{10}}}", "2") is False
    after = verifier.stats
    assert after["timeouts"] == before["timeouts"] + 1
    assert after["worker_restarts"] >= before["worker_restarts"] + 1
    assert verifier.verify("\\sin^2 x+\\cos^2 x", "1") is True  # a symbolic item right after


def test_stats_count_each_path(verifier):
    outputs = ["18", "no digits in here at all", "\\sqrt{8}", "\\sqrt{8}", "\\boxed{" + "1" * 5000 + "}", "x^2+2x+1"]
    golds = ["18", "5", "2\\sqrt{2}", "2\\sqrt{2}", "1", "(x+1)^2"]
    with Verifier(workers=1, timeout_s=10) as fresh:
        results, stats = fresh.verify_batch(outputs, golds, return_stats=True)
    assert results == [True, False, True, True, False, True]
    assert stats["items"] == 6 and stats["correct"] == 4
    assert stats["fast_path"] == 2  # "18" and the polynomial identity
    assert stats["no_answer"] == 1
    assert stats["unparsable"] == 1
    assert stats["symbolic_calls"] == 1  # the duplicate is answered once
    assert stats["symbolic_cached"] == 1
    assert stats["timeouts"] == stats["crashes"] == stats["errors"] == 0


def test_memo_answers_repeats_without_the_pool(verifier):
    verifier.verify_batch(["\\frac{\\sqrt{3}}{3}"], ["\\frac{1}{\\sqrt{3}}"])
    _, stats = verifier.verify_batch(["\\frac{\\sqrt{3}}{3}"], ["\\frac{1}{\\sqrt{3}}"], return_stats=True)
    assert stats["symbolic_cached"] == 1 and stats["symbolic_calls"] == 0


def test_calls_from_non_main_threads(verifier):
    outputs = ["\\sin^2 x+\\cos^2 x", "\\sqrt{8}", "10^{10^{10^{10}}}", "|x|", "18"]
    golds = ["1", "2\\sqrt{2}", "2", "x", "18"]
    expected = [True, True, False, False, True]
    results, errors = {}, []

    def work(k):
        try:
            results[k] = verifier.verify_batch(outputs, golds)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(results[k] == expected for k in range(3))
    assert time.monotonic() - t0 < 3 * _bound(len(outputs))


def test_single_verify_from_a_thread_is_bounded(verifier):
    box = {}
    th = threading.Thread(target=lambda: box.update(r=verifier.verify("10^{10^{10^{10}}}", "3")))
    t0 = time.monotonic()
    th.start()
    th.join(timeout=30)
    assert box["r"] is False
    assert time.monotonic() - t0 < TIMEOUT + 5.0


def test_killed_worker_is_replaced(verifier):
    pool = verifier.pool
    restarts = verifier.stats["worker_restarts"]
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    # items that need sympy (the fast path cannot prove them), so the pool must serve them
    pairs = [("\\sqrt{12}", "2\\sqrt{3}"), ("\\sin x", "\\cos x"), ("\\sqrt{3+2\\sqrt{2}}", "1+\\sqrt{2}"),
             ("\\tan^2 x+1", "\\sec^2 x"), ("\\sqrt{18}", "3\\sqrt{2}"), ("|y|", "y")]
    results = verifier.verify_batch([a for a, _ in pairs], [b for _, b in pairs])
    assert results == [True, False, True, True, True, False]
    assert victim not in pool.pids()
    assert verifier.stats["worker_restarts"] >= restarts + 1
