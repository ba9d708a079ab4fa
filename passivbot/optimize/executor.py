"""Where candidate batches run: a local process pool or a Dask cluster, behind one interface.

Both return `concurrent.futures.Future`s from `submit(task)` (a task: several candidates,
objective.Task), so the search loop takes results as they finish (`concurrent.futures.wait`)
whichever backend runs them. The EvalContext (with the candles)
goes to each worker once: as the pool initializer's argument locally, as one broadcast
`client.scatter` on Dask. Nothing home-made: ProcessPoolExecutor and
`distributed.Client.get_executor`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing import shared_memory
from typing import Any, Protocol

import numpy as np

from passivbot.optimize.objective import (
    EvalContext, Task, evaluate_task, init_worker,
)


CONNECT_TIMEOUT_S = 10
SHM_DIR = "/dev/shm"  # where Linux backs multiprocessing.shared_memory
PARENT_POLL_S = 1.0  # how often a local worker checks that the main process is alive
WORKER_START_TIMEOUT_S = 120  # a cold start compiles the engine (~10 s); a loaded machine more


class SchedulerUnreachable(RuntimeError):
    """The Dask scheduler address did not answer: the user must fix the address or start it."""


class BatchExecutor(Protocol):
    n_workers: int
    task_cost_s: float  # the main process's CPU a task costs (search.py sizes tasks by it)

    def submit(self, task: Task) -> cf.Future: ...

    def submit_many(self, tasks: list[Task]) -> list[cf.Future]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """ProcessPoolExecutor with a spawn context (no forked numba/thread state); every worker
    gets the context once through the initializer and warms its JIT cache there.

    With `share_candles`, the candles go into one shared-memory block that every worker maps,
    instead of a private copy each: N workers hold one copy, not N, and the backtests ran
    faster from it on this machine (bench_optimize.py). Its name is unlinked as soon as every
    worker has mapped it, so even a kill -9 of the whole process group leaves nothing behind
    in /dev/shm: the kernel frees the block with the last mapping."""

    # measured on the 2-core VM (bench_optimize.py): pickling a task, unpickling its results,
    # the pool's queue threads and the futures' wake-ups
    task_cost_s = 0.0003

    def __init__(self, ctx: EvalContext, n_workers: int | None = None,
                 share_candles: bool = True):
        self.n_workers = max(1, n_workers or os.cpu_count() or 1)
        self._shm: shared_memory.SharedMemory | None = None
        nbytes = sum(m.candles.nbytes for m in ctx.markets)
        if share_candles and nbytes and not shm_has_room(nbytes):
            print(f"note: {SHM_DIR} has less than {nbytes / 2**20:.0f} MB free; "
                  f"each optimizer worker gets its own copy of the candles", file=sys.stderr)
            share_candles = False
        if share_candles and nbytes:  # every market's candles, one after the other
            self._shm = shared_memory.SharedMemory(create=True, size=nbytes)
            markets, offset = [], 0
            for m in ctx.markets:
                c = np.ascontiguousarray(m.candles, dtype=np.float64)
                np.ndarray(c.shape, c.dtype, buffer=self._shm.buf, offset=offset)[:] = c
                markets.append(replace(m, candles=_SharedCandles(self._shm.name, offset,
                                                                 c.shape, c.dtype.str)))
                offset += c.nbytes
            ctx = replace(ctx, markets=tuple(markets))
        self._pool = cf.ProcessPoolExecutor(
            self.n_workers, mp_context=mp.get_context("spawn"), initializer=_init_local,
            initargs=(ctx,))
        try:
            self._wait_until_every_worker_is_up()
        finally:
            if self._shm is not None:  # every worker has mapped it (or the pool is gone)
                self._shm.unlink()

    def _wait_until_every_worker_is_up(self) -> None:
        """Return once every worker has run its initializer (JIT warm-up included), so the
        search starts on all of them. The pool spawns a worker per submit, but a worker that
        is up first can run every quick task while the others are still warming up (seconds
        on a cold JIT cache): so this waits for as many distinct pids as workers. Each probe
        holds its worker a moment, so the other probes go to other workers."""
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        pids: set[int] = set()
        while len(pids) < self.n_workers:
            if time.monotonic() > deadline:
                self._pool.shutdown(wait=False, cancel_futures=True)
                raise RuntimeError(f"only {len(pids)} of {self.n_workers} optimizer workers "
                                   f"started within {WORKER_START_TIMEOUT_S} s")
            probes = [self._pool.submit(_pid_after, 0.02) for _ in range(self.n_workers)]
            pids |= {f.result() for f in probes}

    def submit(self, task: Task) -> cf.Future:
        return self._pool.submit(evaluate_task, task)

    def submit_many(self, tasks: list[Task]) -> list[cf.Future]:
        return [self._pool.submit(evaluate_task, t) for t in tasks]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._shm is not None:
            self._shm.close()
            self._shm = None


class DaskExecutor:
    """A Dask cluster through `Client.get_executor()`: same evaluation function, the context
    scattered once to every worker (broadcast) and passed by reference to each task.

    A task costs the client and the scheduler (which a LocalCluster runs in this process)
    ~1-2 ms of CPU, 5x a local pool's, so the search gives Dask fewer, larger tasks
    (`task_cost_s`), submitted a generation at a time, one `Client.map` per worker.

    Each task is placed on a worker round-robin (`workers=[w]`, other workers allowed, so work
    stealing and a lost worker still move it). Left to the scheduler, a generation of one large
    task a worker ran at half speed: with task queuing (`worker-saturation` 1.1) a worker with
    one thread takes up to two tasks at once, so some workers ran two while others ran none
    (16 workers, 30 days and 1 year: parallel efficiency 0.50-0.52 against 0.84-0.90 locally)."""

    task_cost_s = 0.002

    def __init__(self, ctx: EvalContext, address: str, n_workers: int | None = None):
        from distributed import Client

        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as e:
            raise SchedulerUnreachable(
                f"cannot connect to the Dask scheduler at {address} within "
                f"{CONNECT_TIMEOUT_S} s ({e}); is it running and reachable?") from None
        info = self._client.scheduler_info()["workers"]
        workers = list(info)
        if not workers:
            self._client.close()
            raise SchedulerUnreachable(f"the Dask scheduler at {address} has no workers")
        self.n_workers = n_workers or sum(w.get("nthreads", 1) for w in info.values())
        # one slot per thread: a worker with 4 threads takes 4 of every round's tasks
        self._slots = [w for w in workers for _ in range(max(1, info[w].get("nthreads", 1)))]
        self._next = 0
        self._ctx = self._client.scatter(ctx, broadcast=True, hash=False)
        self._exec = self._client.get_executor(pure=False)
        if ctx.warmup is not None:  # load the JIT cache on every worker before timing starts
            warm = [self._client.submit(_warm, self._ctx, workers=[w], pure=False,
                                        allow_other_workers=False) for w in workers]
            self._client.gather(warm)

    def submit(self, task: Task) -> cf.Future:
        return self.submit_many([task])[0]

    def submit_many(self, tasks: list[Task]) -> list[cf.Future]:
        by_worker: dict[str, list[int]] = {}
        for i in range(len(tasks)):
            w = self._slots[(self._next + i) % len(self._slots)]
            by_worker.setdefault(w, []).append(i)
        self._next = (self._next + len(tasks)) % len(self._slots)
        futs: list[Any] = [None] * len(tasks)
        for w, idx in by_worker.items():
            got = self._client.map(_evaluate_pickled, [tasks[i] for i in idx], ctx=self._ctx,
                                   pure=False, workers=[w], allow_other_workers=True)
            for i, f in zip(idx, got):
                futs[i] = f
        # as the executor's own submit wraps them (concurrent.futures futures, fed by the
        # client's event loop), so the search waits on both backends alike
        return [_unpickled(self._exec._wrap_future(f)) for f in futs]

    def close(self) -> None:
        self._exec.shutdown(wait=False)
        self._client.close()


def shm_has_room(nbytes: int) -> bool:
    """Whether POSIX shared memory has room for nbytes (plus 10%). Filling a block the tmpfs
    cannot back kills the process with SIGBUS, not an exception; a container's /dev/shm is
    often 64 MB, less than three years of candles."""
    if not os.path.isdir(SHM_DIR):
        return True  # not Linux's tmpfs: the platform allocates it like any memory
    st = os.statvfs(SHM_DIR)
    return st.f_bavail * st.f_frsize >= nbytes * 1.1


@dataclass(frozen=True)
class _SharedCandles:
    name: str
    offset: int
    shape: tuple[int, ...]
    dtype: str


_WORKER_SHM: list[shared_memory.SharedMemory] = []  # keeps the mapping alive in the worker


def _exit_with_parent(parent: int) -> None:
    """A pool worker waits on its task queue forever: when the main process is killed alone
    (kill -9 of its pid, not of the group), end the worker instead of leaving it behind."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def _init_local(ctx: EvalContext) -> None:
    """Local workers ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and
    the main process alone handles it (cancels queued tasks, closes the log, exit 130). They
    exit by themselves when the main process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    shared = [m for m in ctx.markets if isinstance(m.candles, _SharedCandles)]
    if shared:
        shm = shared_memory.SharedMemory(name=shared[0].candles.name)
        _WORKER_SHM.append(shm)
        # writable on purpose: numba compiles a separate engine for read-only arrays
        ctx = replace(ctx, markets=tuple(
            replace(m, candles=np.ndarray(m.candles.shape, np.dtype(m.candles.dtype),
                                          buffer=shm.buf, offset=m.candles.offset))
            if isinstance(m.candles, _SharedCandles) else m for m in ctx.markets))
    init_worker(ctx)


def _evaluate_pickled(task: Task, ctx: EvalContext) -> bytes:
    """A Dask task's results as one pickle: Dask serializes a returned list element by
    element (the client's loop deserialized 2,592 pieces for 32 tasks of 80), bytes in one."""
    return pickle.dumps(evaluate_task(task, ctx), protocol=pickle.HIGHEST_PROTOCOL)


def _unpickled(fut: cf.Future) -> cf.Future:
    """A future of `_evaluate_pickled`'s bytes as a future of the results (unpickled in the
    thread that completes it; failures and cancellation passed on)."""
    out: cf.Future = cf.Future()

    def done(f: cf.Future) -> None:
        if f.cancelled():
            out.cancel()
            try:  # wakes wait()/as_completed(); already done if it was cancelled from here
                out.set_running_or_notify_cancel()
            except RuntimeError:
                pass
        elif f.exception() is not None:
            out.set_exception(f.exception())
        else:
            out.set_result(pickle.loads(f.result()))

    def cancel(o: cf.Future) -> None:
        if o.cancelled():
            fut.cancel()

    out.add_done_callback(cancel)
    fut.add_done_callback(done)
    return out


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _warm(ctx: EvalContext) -> bool:
    init_worker(ctx)
    return True


def make_executor(ctx: EvalContext, n_workers: int | None = None,
                  dask_scheduler: str | None = None) -> BatchExecutor:
    """Dask when a scheduler address is given, else a local process pool."""
    if dask_scheduler:
        return DaskExecutor(ctx, dask_scheduler, n_workers)
    return LocalExecutor(ctx, n_workers)
