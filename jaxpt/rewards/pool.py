"""A persistent pool of worker processes with a hard per-task time limit.

Why not ``multiprocessing.Pool`` / ``concurrent.futures``: neither can stop one runaway task. Here
every task goes to one worker over its own pipe; if no answer arrives within ``timeout_s`` the
worker is SIGKILLed and replaced, and the task reports ``TIMEOUT``. A worker that dies (segfault,
OOM kill, ``kill -9`` from outside) reports ``CRASH`` for its task and is replaced too. Nothing
here uses signals in the calling process, so ``run`` works from any thread, and several threads
may call ``run`` at once (each holds the workers it uses; others wait for free ones).

Workers are started with the "forkserver" method (falls back to "spawn" where unavailable): both
are safe after jax (or any threaded library) is loaded in the parent, unlike "fork". The fork
server preloads the modules named in ``preload`` once, so replacing a killed worker costs a fork
(milliseconds), not a fresh interpreter. Workers also cap their address space (``mem_limit_mb``) so
a runaway big-integer computation fails with MemoryError instead of exhausting the machine, and
exit on their own when the parent process disappears.

A stock spawn/forkserver child re-runs the parent's main module (``__mp_main__``): a training
script would re-import jax in every worker, and an unguarded script would recurse. Our workers run
only importable code, so on the Python versions whose fork-server launch code we mirror
(3.8-3.12) they skip that step; elsewhere the stock behaviour applies and the main script must
guard its entry point with ``if __name__ == "__main__":``.

Tasks name their function as ``"package.module:function"`` (resolved inside the worker), so the
parent never has to import what the workers run; plain picklable callables work too.
"""
from __future__ import annotations

import importlib
import io
import multiprocessing as mp
import os
import sys
import threading
import time
from multiprocessing.connection import wait

TIMEOUT = "timeout"
CRASH = "crash"
ERROR = "error"
OK = "ok"

_START_TIMEOUT_S = 120.0  # a cold interpreter importing sympy on a busy 2-core box can be slow


def _resolve(fn):
    if isinstance(fn, str):
        module, _, name = fn.partition(":")
        return getattr(importlib.import_module(module), name)
    return fn


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone, so an orphaned worker stuck in a computation does not linger."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass


def _worker_main(conn, parent_pid: int, mem_limit_mb: int, init: str | None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    if mem_limit_mb:
        try:
            import resource

            limit = mem_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if init:
        _resolve(init)()  # import and warm what the tasks need before reporting ready
    conn.send(("ready", os.getpid()))
    cache: dict = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task_id, fn, args = msg
        try:
            if isinstance(fn, str):
                if fn not in cache:
                    cache[fn] = _resolve(fn)
                fn = cache[fn]
            reply = (task_id, OK, fn(*args))
        except BaseException as e:  # noqa: BLE001 - any failure of a task is that task's result
            reply = (task_id, ERROR, f"{type(e).__name__}: {e}"[:500])
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as e:  # unpicklable result
            conn.send((task_id, ERROR, f"unpicklable result: {e}"[:500]))


class _Worker:
    __slots__ = ("proc", "conn", "ready", "started_at")

    def __init__(self, proc, conn):
        self.proc, self.conn, self.ready, self.started_at = proc, conn, False, time.monotonic()


def _context(start_method: str | None):
    methods = mp.get_all_start_methods()
    if start_method is None:
        start_method = "forkserver" if "forkserver" in methods else "spawn"
    if start_method == "fork":
        raise ValueError("fork is unsafe once jax/threads are loaded; use forkserver or spawn")
    return mp.get_context(start_method)


# A fork-server Process class whose children skip re-running the parent's ``__main__``. Its Popen
# mirrors ``multiprocessing.popen_forkserver.Popen._launch`` (unchanged from 3.8 to 3.12) with the
# two "init main" entries dropped from the preparation data. Module-level: the process object is
# pickled to the child. None where not applicable (stock behaviour then).
_NO_MAIN_PROCESS = None
if (3, 8) <= sys.version_info[:2] <= (3, 12) and "forkserver" in mp.get_all_start_methods():
    from multiprocessing import context as _mp_context
    from multiprocessing import forkserver as _mp_forkserver
    from multiprocessing import popen_forkserver as _mp_popen_forkserver
    from multiprocessing import spawn as _mp_spawn
    from multiprocessing import util as _mp_util

    class _NoMainPopen(_mp_popen_forkserver.Popen):
        def _launch(self, process_obj):
            prep_data = _mp_spawn.get_preparation_data(process_obj._name)
            prep_data.pop("init_main_from_name", None)
            prep_data.pop("init_main_from_path", None)
            buf = io.BytesIO()
            _mp_context.set_spawning_popen(self)
            try:
                _mp_context.reduction.dump(prep_data, buf)
                _mp_context.reduction.dump(process_obj, buf)
            finally:
                _mp_context.set_spawning_popen(None)
            self.sentinel, w = _mp_forkserver.connect_to_new_process(self._fds)
            _parent_w = os.dup(w)
            self.finalizer = _mp_util.Finalize(self, _mp_util.close_fds, (_parent_w, self.sentinel))
            with open(w, "wb", closefd=True) as f:
                f.write(buf.getbuffer())
            self.pid = _mp_forkserver.read_signed(self.sentinel)

    class _NoMainProcess(_mp_context.ForkServerProcess):
        @staticmethod
        def _Popen(process_obj):
            return _NoMainPopen(process_obj)

    _NO_MAIN_PROCESS = _NoMainProcess


class WorkerPool:
    """``size`` worker processes; ``run(fn, arg_tuples, timeout_s)`` -> list of (status, value)."""

    def __init__(self, size: int, *, preload: tuple[str, ...] = (), init: str | None = None,
                 mem_limit_mb: int = 2048, start_method: str | None = None):
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self._ctx = _context(start_method)
        if self._ctx.get_start_method() == "forkserver" and preload:
            # Only effective if the fork server is not running yet (it is shared per process).
            self._ctx.set_forkserver_preload(list(preload))
        self._init = init
        self._mem_limit_mb = mem_limit_mb
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._closed = False
        self._task_seq = 0
        self.stats = {"tasks": 0, "timeouts": 0, "crashes": 0, "errors": 0, "restarts": 0}
        for _ in range(size):
            self._idle.append(self._spawn())

    # -- worker lifecycle ---------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        use_no_main = _NO_MAIN_PROCESS is not None and self._ctx.get_start_method() == "forkserver"
        proc = (_NO_MAIN_PROCESS if use_no_main else self._ctx.Process)(
            target=_worker_main,
            args=(child_conn, os.getpid(), self._mem_limit_mb, self._init),
            daemon=True,
            name="jaxpt-rewards-worker",
        )
        proc.start()
        child_conn.close()
        w = _Worker(proc, parent_conn)
        with self._cond:
            self._all.add(w)
        return w

    def _discard(self, w: _Worker) -> None:
        try:
            if w.proc.is_alive():
                w.proc.kill()
            w.proc.join(timeout=2.0)
        except Exception:
            pass
        try:
            w.conn.close()
        except Exception:
            pass
        with self._cond:
            self._all.discard(w)

    def _replace(self, w: _Worker, reason: str) -> _Worker:
        self._discard(w)
        with self._cond:
            self.stats[reason] += 1
            self.stats["restarts"] += 1
        return self._spawn()

    def pids(self) -> list[int]:
        with self._cond:
            return [w.proc.pid for w in self._all]

    def warm(self, timeout_s: float = _START_TIMEOUT_S) -> None:
        """Blocks until every idle worker has finished starting."""
        self.run(len, [((),)] * self.size, timeout_s=timeout_s)

    # -- task dispatch ------------------------------------------------------------------------
    def _acquire(self, want: int, block: bool) -> list[_Worker]:
        with self._cond:
            while not self._idle and block and not self._closed:
                self._cond.wait(timeout=0.5)
            if self._closed:
                raise RuntimeError("WorkerPool is closed")
            got, self._idle = self._idle[:want], self._idle[want:]
            return got

    def _release(self, workers) -> None:
        if not workers:
            return
        with self._cond:
            self._idle.extend(workers)
            self._cond.notify_all()

    def run(self, fn, arg_tuples, timeout_s: float) -> list[tuple[str, object]]:
        """Runs ``fn(*args)`` for each tuple; returns (OK, value) / (ERROR, msg) / (TIMEOUT, None) /
        (CRASH, None) per task, in order. Each task gets ``timeout_s`` of wall time on a worker."""
        arg_tuples = list(arg_tuples)
        n = len(arg_tuples)
        results: list = [None] * n
        next_i = 0
        free: list[_Worker] = []  # held, ready, no task
        starting: list[_Worker] = []  # held, still importing
        busy: dict[_Worker, tuple[int, float, int]] = {}  # held: (task index, deadline, task id)
        start_failures = 0
        try:
            while next_i < n or busy:
                # Take more workers while there are more pending tasks than held workers.
                pending = n - next_i
                if pending > len(free) + len(starting):
                    nothing_held = not (free or starting or busy)
                    for w in self._acquire(pending - len(free) - len(starting), block=nothing_held):
                        (free if w.ready else starting).append(w)
                # Hand out tasks.
                while free and next_i < n:
                    w = free.pop()
                    if not w.proc.is_alive():  # died while idle (e.g. killed from outside)
                        starting.append(self._replace(w, "crashes"))
                        continue
                    with self._cond:
                        self._task_seq += 1
                        task_id = self._task_seq
                    try:
                        w.conn.send((task_id, fn, arg_tuples[next_i]))
                    except (OSError, EOFError, BrokenPipeError):
                        starting.append(self._replace(w, "crashes"))
                        continue
                    busy[w] = (next_i, time.monotonic() + timeout_s, task_id)
                    next_i += 1
                if next_i >= n and free:  # nothing left to send: let other callers have them
                    self._release(free)
                    free = []
                if not busy and not starting:
                    continue
                # Wait for a reply, a death or the nearest deadline.
                now = time.monotonic()
                deadlines = [d for (_, d, _) in busy.values()]
                deadlines += [w.started_at + _START_TIMEOUT_S for w in starting]
                waitables = {}
                for w in list(busy) + starting:
                    waitables[w.conn] = w
                    waitables[w.proc.sentinel] = w
                ready = wait(list(waitables), timeout=max(0.0, min(deadlines) - now))
                handled = set()
                for obj in ready:
                    w = waitables[obj]
                    if w in handled:
                        continue
                    handled.add(w)
                    msg = None
                    try:
                        if w.conn.poll():
                            msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if w in busy:
                        i, _, task_id = busy.pop(w)
                        if msg is not None and msg[0] == task_id:
                            status, value = msg[1], msg[2]
                            results[i] = (status, value)
                            with self._cond:
                                self.stats["tasks"] += 1
                                if status == ERROR:
                                    self.stats["errors"] += 1
                            free.append(w)
                        else:  # the worker died mid-task
                            results[i] = (CRASH, None)
                            with self._cond:
                                self.stats["tasks"] += 1
                            starting.append(self._replace(w, "crashes"))
                    else:  # a starting worker: "ready", or it died while importing
                        starting.remove(w)
                        if msg is not None and msg[0] == "ready":
                            w.ready = True
                            free.append(w)
                        else:
                            start_failures += 1
                            starting.append(self._replace(w, "crashes"))
                # Kill what overran its deadline.
                now = time.monotonic()
                for w, (i, deadline, _) in list(busy.items()):
                    if now >= deadline and w not in handled:
                        busy.pop(w)
                        results[i] = (TIMEOUT, None)
                        with self._cond:
                            self.stats["tasks"] += 1
                        starting.append(self._replace(w, "timeouts"))
                for w in list(starting):
                    if now >= w.started_at + _START_TIMEOUT_S:
                        starting.remove(w)
                        start_failures += 1
                        starting.append(self._replace(w, "crashes"))
                if start_failures > 3 and not free and not busy:
                    # Workers cannot start at all. Scoring everything False would silently zero
                    # the reward, so fail loudly instead.
                    raise RuntimeError(
                        "reward worker processes fail to start; with the forkserver/spawn start "
                        "methods the main script must guard its entry point with "
                        "`if __name__ == '__main__':`"
                    )
        finally:
            # Busy workers can only be left here by an exception: their state is unknown.
            for w in list(busy):
                self._discard(w)
                self._release([self._spawn()])
            self._release(free + starting)
        return results

    # -- shutdown -----------------------------------------------------------------------------
    def close(self, timeout_s: float = 2.0) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
            self._idle = []
            self._cond.notify_all()
        for w in workers:
            try:
                w.conn.send(None)
            except Exception:
                pass
        deadline = time.monotonic() + timeout_s
        for w in workers:
            w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            self._discard(w)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
