"""The search loop: a population sampler asked a whole generation at once, its candidates
evaluated in tasks of several on a BatchExecutor, results logged as each task returns, and the
generation told at once when its last result is in.

Per candidate the main process only asks (CMA-ES: ~0.4 us, one matrix product a generation),
passes a row of a numpy array to a task, writes the log line the worker encoded, and tells
(~5-7 us per candidate per generation); the candidate dicts, validation and JSON encoding
happen in the workers.

A generation is split into tasks that shrink toward its end (guided self-scheduling: each task
takes 1/workers of what is left, at most `max_chunk`, at least what keeps a task's cost to the
main process under TASK_COST_SHARE of its backtests), all submitted at once, so every worker
stays busy until the generation's last few candidates, in as few tasks as that allows. When a
generation's last task returns, the next generation is told, asked and submitted before those
results are logged, so the workers do not wait on the log or the callbacks. The sampler sees
each generation told in candidate order whatever the completion order, so the same config and
seed give the same trials on 1 worker, on N, or on Dask, run after run (the population size
is the config's `batch_size`, or a default from the worker count: set it to compare
machines).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from passivbot.optimize.executor import BatchExecutor
from passivbot.optimize.objective import TaskResult
from passivbot.optimize.resume import TrialLog
from passivbot.optimize.samplers import Sampler

MAX_CHUNK = 32  # candidates per task at most (a generation's first tasks: n / workers)
# A task may cost the main process at most this share of the backtests it carries: with the
# mean backtest time measured so far and the executor's cost a task, the smallest task holds
# ceil(task_cost_s / (TASK_COST_SHARE * backtest_s)) candidates (a Dask task's ~2 ms over
# 30-day backtests of ~3 ms: 23; chunks() keeps every worker busy all the same).
TASK_COST_SHARE = 0.03


@dataclass
class SearchStats:
    """Where the main process spent its time (the optimizer's own overhead)."""

    trials: int = 0
    cpu_s: float = 0.0  # CPU time of the main process (all its threads: incl. the executor's
    #                     pickling and result threads) during the search
    eval_s: float = 0.0  # sum of the workers' evaluation times (wall)
    eval_cpu_s: float = 0.0  # sum of the workers' evaluation CPU times (the work per trial)
    sampler_cpu_s: float = 0.0  # main-thread CPU inside the sampler's ask and tell (in cpu_s)
    thread_cpu_s: float = 0.0  # the search loop's own thread (the rest of cpu_s: the
    #                            executor's threads, which pickle tasks and unpickle results)
    wall_s: float = 0.0
    generations: int = 0

    @property
    def overhead_fraction(self) -> float:
        """The main process's CPU time per trial / a backtest's CPU time per trial (CPU, not
        wall, on both sides: on a shared machine the wall time of a backtest grows with the
        other processes' load, which would flatter the ratio)."""
        return self.cpu_s / self.eval_cpu_s if self.eval_cpu_s > 0 else 0.0


@dataclass
class Pending:
    """A generation asked but not yet told (also: the one a resumed run re-asks)."""

    index: int
    numbers: list[int]  # the trial number of each point evaluated (a prefix of the points)
    points: Any  # everything the sampler proposed (numpy rows or params dicts)
    state: str | None = None  # the sampler's state it was asked from (samplers.py)
    values: dict[int, list[float]] = field(default_factory=dict)  # position -> values


def chunks(n: int, workers: int, max_chunk: int = MAX_CHUNK, min_chunk: int = 1) -> list[int]:
    """Task sizes for n candidates on `workers`.

    Guided self-scheduling: each task takes 1/workers of what is left (at least min_chunk,
    at most max_chunk), so the last tasks of a generation are small and the workers finish
    together. When min_chunk is large against a worker's share (under 4 tasks of min_chunk
    a worker), shrinking tasks would end the generation in a second wave on a few workers
    while the others wait: the candidates are then split evenly, one task a worker."""
    if n <= 0:
        return []
    lo = max(1, min(min_chunk, n // workers))
    if lo > 1 and n < 4 * workers * lo:
        q, r = divmod(n, workers)
        return [q + 1] * r + [q] * (workers - r)
    hi = max(max_chunk, lo)
    out = []
    while n > 0:
        k = min(max(lo, min(hi, math.ceil(n / workers))), n)
        out.append(k)
        n -= k
    return out


@dataclass
class Search:
    """One optimization's state in the main process."""

    sampler: Sampler
    executor: BatchExecutor
    log: TrialLog
    next_number: int = 0
    generation: int = 0
    starts: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    resume: Pending | None = None  # a logged generation to finish first (resume)
    stats: SearchStats = field(default_factory=SearchStats)

    def _new_generation(self, limit: int) -> Pending:
        c0 = time.thread_time()
        state = self.sampler.state()
        points = self.sampler.ask()
        self.stats.sampler_cpu_s += time.thread_time() - c0
        k = min(len(points), limit)
        numbers = list(range(self.next_number, self.next_number + k))
        self.next_number += k
        return Pending(self.generation, numbers, points, state)

    def run(self, n_trials: int,
            on_done: Callable[[list[TaskResult]], None] | None = None) -> None:
        """Evaluate `n_trials` more candidates (the pending starting configs first, in the
        first wave); `on_done` gets each task's results as it returns."""
        remaining = n_trials
        t_wall, t_cpu, t_thread = time.perf_counter(), time.process_time(), time.thread_time()
        futures: set[cf.Future] = set()
        stash: list[TaskResult] = []  # a told generation's last results, not yet logged
        ok = False
        try:
            while remaining > 0 or self.resume is not None:
                starts = self.starts[:max(0, remaining)]
                self.starts = []
                remaining -= len(starts)
                if self.resume is not None:
                    gen, self.resume = self.resume, None
                    extra = max(0, min(len(gen.points) - len(gen.numbers), remaining))
                    gen.numbers += list(range(self.next_number, self.next_number + extra))
                    self.next_number += extra
                elif remaining > 0:
                    gen = self._new_generation(remaining)
                else:
                    break
                todo = [i for i in range(len(gen.numbers)) if i not in gen.values]
                todo = todo[:max(0, remaining)]
                remaining -= len(todo)
                futures = self._submit(gen, todo, starts)
                # The previous generation's last results are logged once this one runs (the
                # workers do not wait for the log, the progress bar or a best.json write),
                # and, like the rest of it, before this generation's record: the log reads
                # in generation order (resume.py).
                if stash:
                    self._log(stash, on_done)
                    stash = []
                # logged after submitting (the workers start sooner) and before any of the
                # generation's results, which only this thread writes
                self.log.write({"generation": gen.index, "numbers": gen.numbers,
                                "state": gen.state,
                                **({"starts": [n for n, _, _ in starts]} if starts else {})})
                self.log.commit()
                stash = self._collect(gen, futures, on_done)
                futures = set()
                if len(gen.values) == len(gen.points):  # complete: tell it
                    c0 = time.thread_time()
                    self.sampler.tell(gen.points, [gen.values[i] for i in range(len(gen.points))])
                    self.stats.sampler_cpu_s += time.thread_time() - c0
                    self.generation = gen.index + 1
                    self.stats.generations += 1
            ok = True
        finally:
            for fut in futures:
                fut.cancel()
            if stash:  # evaluated: logged whatever stopped the search
                self._log(stash, on_done if ok else None)
            self.stats.wall_s += time.perf_counter() - t_wall
            self.stats.cpu_s += time.process_time() - t_cpu
            self.stats.thread_cpu_s += time.thread_time() - t_thread

    def _submit(self, gen: Pending, todo: list[int],
                starts: list[tuple[int, str, dict[str, Any]]]) -> dict[cf.Future, list[int]]:
        """Submit the starts (one task each) and the generation's missing positions."""
        tasks: list[Any] = [([n], [origin], [params]) for n, origin, params in starts]
        where: list[list[int | None]] = [[None]] * len(starts)
        pts = gen.points
        st, ex = self.stats, self.executor
        bt_s = st.eval_s / st.trials if st.trials else 0.0
        least = math.ceil(ex.task_cost_s / (TASK_COST_SHARE * bt_s)) if bt_s > 0 else 1
        i = 0
        for k in chunks(len(todo), ex.n_workers, MAX_CHUNK, least):
            pos = todo[i:i + k]
            i += k
            nums = [gen.numbers[p] for p in pos]
            if isinstance(pts, np.ndarray):
                sub = pts[pos[0]:pos[-1] + 1] if pos[-1] - pos[0] == k - 1 else pts[pos]
            else:
                sub = [pts[p] for p in pos]
            tasks.append((nums, "search", sub))
            where.append(pos)
        return dict(zip(ex.submit_many(tasks), where))

    def _collect(self, gen: Pending, futs: dict[cf.Future, list[int | None]],
                 on_done: Callable[[list[TaskResult]], None] | None) -> list[TaskResult]:
        """Log each task's results as it returns; keep the generation's values by position.
        The task that completes the generation is returned unlogged: the caller tells the
        sampler and submits the next generation first, then logs it (run)."""
        st = self.stats
        left = len(futs)
        for fut in cf.as_completed(futs):
            results = fut.result()
            left -= 1
            for (_, _, values, secs, cpu, _), p in zip(results, futs[fut]):
                st.eval_s += secs
                st.eval_cpu_s += cpu
                if p is not None:
                    gen.values[p] = values
            st.trials += len(results)
            if left == 0 and len(gen.values) == len(gen.points):
                return results
            self._log(results, on_done)
        return []

    def _log(self, results: list[TaskResult],
             on_done: Callable[[list[TaskResult]], None] | None) -> None:
        for r in results:
            self.log.write_line(r[5])
        self.log.commit()
        if on_done is not None:
            on_done(results)
