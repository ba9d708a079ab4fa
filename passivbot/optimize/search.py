"""The search loop: Optuna ask/tell with the study in memory, candidates evaluated in tasks of
several configs on a BatchExecutor, results logged per task.

Steady state rather than generations: `tasks_in_flight` tasks of `chunk` candidates are kept
queued on the executor; when the oldest finishes, its trials are told, logged (one fsync per
task) and a new task is asked and submitted at once, so workers never wait for the slowest
candidate of a generation. CMA-ES and NSGA-II group trials into generations themselves from the
told results. Tells follow submission order, so a run is reproducible (Search.run).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna
from optuna.distributions import BaseDistribution

from passivbot.optimize.cma import FastCmaEsSampler, fast_cma_supported
from passivbot.optimize.executor import BatchExecutor
from passivbot.optimize.resume import TrialLog
from passivbot.optimize.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)

try:  # what Study.optimize itself calls: Study.tell without the deep copy of the trial it returns
    from optuna.study._tell import _tell_with_warning as _optuna_tell
except ImportError:  # an Optuna without it: the public tell (same effect, one copy more)
    _optuna_tell = None


def tell(study: optuna.Study, trial: optuna.trial.Trial, values: list[float]) -> None:
    """Finish a trial with its values. `Study.tell` returns a deep copy of the finished trial
    (22 distributions, the sampler's attributes): ~0.17 ms a trial, most of tell's cost and ~8%
    of the main process's per-trial CPU (bench_optimize.py), for a result we never read. So
    this calls the function `Study.tell` and `Study.optimize` both use (same checks, same
    storage update, same sampler `after_trial`), without that copy."""
    if _optuna_tell is None:
        study.tell(trial, values)
    else:
        _optuna_tell(study=study, trial=trial, value_or_values=values)


def make_sampler(name: str, seed: int, x0: dict[str, Any] | None = None,
                 space: dict[str, BaseDistribution] | None = None
                 ) -> optuna.samplers.BaseSampler:
    """The Optuna sampler for the config's `sampler` choice. CMA-ES starts its mean at the
    first starting config (x0) rather than the middle of the box; given the fixed search
    `space` every trial is asked with, it is the FastCmaEsSampler (same search, O(1)
    bookkeeping per trial: optimize/cma.py)."""
    if name == "cmaes":
        with warnings.catch_warnings():  # x0 is deprecated after Optuna 4.9 (still in 5.0)
            warnings.simplefilter("ignore", FutureWarning)
            if space is not None and fast_cma_supported():
                return FastCmaEsSampler(x0=x0, seed=seed, warn_independent_sampling=False,
                                        search_space=space)
            return optuna.samplers.CmaEsSampler(x0=x0, seed=seed,
                                                warn_independent_sampling=False)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}")


def make_study(sampler: optuna.samplers.BaseSampler, multi_objective: bool) -> optuna.Study:
    """In-memory study: maximize the score (and, multi-objective, -max_drawdown)."""
    directions = ["maximize", "maximize"] if multi_objective else ["maximize"]
    return optuna.create_study(directions=directions, sampler=sampler)


@dataclass
class SearchStats:
    """Where the main process spent its time (the optimizer's own overhead)."""

    trials: int = 0
    cpu_s: float = 0.0  # CPU time of the main process (all its threads: incl. the executor's
    #                     pickling and result threads) during the search
    eval_s: float = 0.0  # sum of the workers' evaluation times (wall)
    eval_cpu_s: float = 0.0  # sum of the workers' evaluation CPU times (the work per trial)
    sampler_cpu_s: float = 0.0  # main-thread CPU inside Optuna's ask and tell (part of cpu_s)
    wall_s: float = 0.0

    @property
    def overhead_fraction(self) -> float:
        """The optimizer's own CPU time per trial / evaluation time per trial."""
        return self.cpu_s / self.eval_s if self.eval_s > 0 else 0.0


@dataclass
class Search:
    """One optimization's state in the main process."""

    study: optuna.Study
    space: SearchSpace
    executor: BatchExecutor
    log: TrialLog
    next_number: int = 0
    starts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (origin, params)
    stats: SearchStats = field(default_factory=SearchStats)

    def _ask(self) -> tuple[int, optuna.trial.Trial, str, dict[str, Any], dict[str, Any]]:
        if self.starts:
            origin, params = self.starts.pop(0)
            self.study.enqueue_trial(params)
        else:
            origin = "search"
        c0 = time.thread_time()
        trial = self.study.ask(self.space.distributions)
        self.stats.sampler_cpu_s += time.thread_time() - c0
        n = self.next_number
        self.next_number += 1
        # Samplers keep their state in trial system attrs (CMA-ES: its pickled optimizer);
        # logging them lets a resumed study continue the same search.
        sys_attrs = dict(trial.storage.get_trial_system_attrs(trial._trial_id))
        return n, trial, origin, sys_attrs, trial.params

    def run(self, n_trials: int, chunk: int, tasks_in_flight: int,
            on_done: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        """Evaluate `n_trials` more candidates; `on_done` gets each task's log records.

        One task is told per refill, in the order the tasks were submitted (a task finished
        early waits for the older ones; its worker has already moved on to a queued task). So
        the sampler sees the same sequence of asks and tells whatever the timing: the same
        config, seed and task layout give the same trials on 1 worker, on 8, or on Dask, run
        after run."""
        to_ask = n_trials
        pending: collections.deque[tuple[cf.Future, list[tuple[int, Any, str, dict, dict]]]] = (
            collections.deque())
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        try:
            while to_ask > 0 or pending:
                while to_ask > 0 and len(pending) < tasks_in_flight:
                    k = min(chunk, to_ask)
                    metas = [self._ask() for _ in range(k)]
                    to_ask -= k
                    batch = [(n, self.space.candidate(p)) for n, _, _, _, p in metas]
                    pending.append((self.executor.submit(batch), metas))
                fut, metas = pending[0]
                results = dict(fut.result())  # the oldest task; one task told per refill
                pending.popleft()
                records = []
                for n, trial, origin, sys_attrs, params in metas:
                    res = results[n]
                    c0 = time.thread_time()
                    tell(self.study, trial, res["values"])
                    self.stats.sampler_cpu_s += time.thread_time() - c0
                    self.stats.eval_s += res["seconds"]
                    self.stats.eval_cpu_s += res.get("cpu_seconds", res["seconds"])
                    records.append({"number": n, "origin": origin, "params": params,
                                    **res, "system_attrs": sys_attrs})
                for r in records:
                    self.log.write(r)
                self.log.commit()
                self.stats.trials += len(records)
                if on_done is not None:
                    on_done(records)
        finally:
            for fut, _ in pending:
                fut.cancel()
            self.stats.wall_s += time.perf_counter() - t_wall
            self.stats.cpu_s += time.process_time() - t_cpu
