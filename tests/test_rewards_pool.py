"""WorkerPool: per-task time limit, crash and error handling, worker replacement, threads."""
import os
import signal
import threading
import time

import pytest

from jaxpt.rewards.pool import CRASH, ERROR, OK, TIMEOUT, WorkerPool
from jaxpt.rewards.verifier import WORKER_PRELOAD


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(2, preload=WORKER_PRELOAD)  # the fork server is shared: preload as the verifier does
    p.warm()
    yield p
    p.close()


def test_runs_tasks_in_order(pool):
    out = pool.run(pow, [(2, k) for k in range(10)], timeout_s=10)
    assert out == [(OK, 2**k) for k in range(10)]
    assert pool.run("math:factorial", [(5,)], timeout_s=10) == [(OK, 120)]  # named function


def test_error_in_task_is_reported_and_worker_survives(pool):
    pids = set(pool.pids())
    (status, msg), = pool.run(int, [("not a number",)], timeout_s=10)
    assert status == ERROR and "ValueError" in msg
    assert set(pool.pids()) == pids


def test_timeout_kills_and_replaces_the_worker(pool):
    before = dict(pool.stats)
    t0 = time.monotonic()
    out = pool.run(time.sleep, [(60,), (0,)], timeout_s=0.5)
    assert time.monotonic() - t0 < 5
    assert out == [(TIMEOUT, None), (OK, None)]
    assert pool.stats["timeouts"] == before["timeouts"] + 1
    assert pool.stats["restarts"] == before["restarts"] + 1
    assert pool.run(pow, [(3, 2)], timeout_s=10) == [(OK, 9)]


def test_batch_time_is_bounded_by_items_over_workers(pool):
    n, timeout = 6, 0.5
    t0 = time.monotonic()
    out = pool.run(time.sleep, [(60,)] * n, timeout_s=timeout)
    elapsed = time.monotonic() - t0
    assert out == [(TIMEOUT, None)] * n
    assert elapsed < n / pool.size * timeout + 4.0


def test_worker_dying_mid_task_is_a_crash(pool):
    out = pool.run(os._exit, [(3,)], timeout_s=10)
    assert out == [(CRASH, None)]
    assert pool.run(pow, [(2, 5)], timeout_s=10) == [(OK, 32)]


def test_worker_killed_from_outside_is_replaced(pool):
    before = pool.stats["restarts"]
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    out = pool.run(pow, [(2, k) for k in range(6)], timeout_s=10)
    assert out == [(OK, 2**k) for k in range(6)]
    assert victim not in pool.pids()
    assert pool.stats["restarts"] >= before + 1
    assert len(pool.pids()) == pool.size


def test_killed_while_running_returns_promptly(pool):
    pool.warm()  # every worker ready, so the task below starts at once
    result = {}
    th = threading.Thread(target=lambda: result.update(out=pool.run(time.sleep, [(30,)], timeout_s=60)))
    th.start()
    time.sleep(2.0)  # let the task start
    for pid in pool.pids():  # kill every worker: the busy one is among them
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    th.join(timeout=20)
    assert not th.is_alive()
    assert result["out"] == [(CRASH, None)]


def test_concurrent_callers_from_threads(pool):
    results = {}

    def call(k):
        results[k] = pool.run(pow, [(k, j) for j in range(20)], timeout_s=60)

    threads = [threading.Thread(target=call, args=(k,)) for k in (2, 3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for k in (2, 3, 5):
        assert results[k] == [(OK, k**j) for j in range(20)], (results[k], pool.stats)


def test_fork_start_method_is_refused():
    with pytest.raises(ValueError):
        WorkerPool(1, start_method="fork")
