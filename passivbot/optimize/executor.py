"""Where candidate batches run: a local process pool or a Dask cluster, behind one interface.

Both return `concurrent.futures.Future`s from `submit(batch)`, so the search loop waits on them
with `concurrent.futures.wait` whichever backend runs them. The EvalContext (with the candles)
goes to each worker once: as the pool initializer's argument locally, as one broadcast
`client.scatter` on Dask. Nothing home-made: ProcessPoolExecutor and
`distributed.Client.get_executor`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
from typing import Any, Protocol

from passivbot.optimize.objective import EvalContext, evaluate_batch, init_worker


CONNECT_TIMEOUT_S = 10


class SchedulerUnreachable(RuntimeError):
    """The Dask scheduler address did not answer: the user must fix the address or start it."""


class BatchExecutor(Protocol):
    n_workers: int

    def submit(self, batch: list[tuple[int, dict[str, Any]]]) -> cf.Future: ...

    def close(self) -> None: ...


class LocalExecutor:
    """ProcessPoolExecutor with a spawn context (no forked numba/thread state); every worker
    gets the context once through the initializer and warms its JIT cache there."""

    def __init__(self, ctx: EvalContext, n_workers: int | None = None):
        self.n_workers = max(1, n_workers or os.cpu_count() or 1)
        self._pool = cf.ProcessPoolExecutor(
            self.n_workers, mp_context=mp.get_context("spawn"), initializer=_init_local,
            initargs=(ctx,))
        # Start every worker now (the pool spawns lazily), so warm-up is not timed as search.
        list(cf.wait([self._pool.submit(os.getpid) for _ in range(self.n_workers)]).done)

    def submit(self, batch: list[tuple[int, dict[str, Any]]]) -> cf.Future:
        return self._pool.submit(evaluate_batch, batch)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A Dask cluster through `Client.get_executor()`: same evaluation function, the context
    scattered once to every worker (broadcast) and passed by reference to each task."""

    def __init__(self, ctx: EvalContext, address: str, n_workers: int | None = None):
        from distributed import Client

        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as e:
            raise SchedulerUnreachable(
                f"cannot connect to the Dask scheduler at {address} within "
                f"{CONNECT_TIMEOUT_S} s ({e}); is it running and reachable?") from None
        workers = list(self._client.scheduler_info()["workers"])
        if not workers:
            self._client.close()
            raise SchedulerUnreachable(f"the Dask scheduler at {address} has no workers")
        self.n_workers = n_workers or sum(
            w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values())
        self._ctx = self._client.scatter(ctx, broadcast=True, hash=False)
        self._exec = self._client.get_executor(pure=False)
        if ctx.warmup is not None:  # load the JIT cache on every worker before timing starts
            warm = [self._client.submit(_warm, self._ctx, workers=[w], pure=False,
                                        allow_other_workers=False) for w in workers]
            self._client.gather(warm)

    def submit(self, batch: list[tuple[int, dict[str, Any]]]) -> cf.Future:
        return self._exec.submit(evaluate_batch, batch, self._ctx)

    def close(self) -> None:
        self._exec.shutdown(wait=False)
        self._client.close()


def _init_local(ctx: EvalContext) -> None:
    """Local workers ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and
    the main process alone handles it (cancels queued tasks, closes the log, exit 130)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker(ctx)


def _warm(ctx: EvalContext) -> bool:
    init_worker(ctx)
    return True


def make_executor(ctx: EvalContext, n_workers: int | None = None,
                  dask_scheduler: str | None = None) -> BatchExecutor:
    """Dask when a scheduler address is given, else a local process pool."""
    if dask_scheduler:
        return DaskExecutor(ctx, dask_scheduler, n_workers)
    return LocalExecutor(ctx, n_workers)
