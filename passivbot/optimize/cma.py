"""Optuna's CMA-ES sampler with its per-trial bookkeeping made constant instead of O(trials).

`optuna.samplers.CmaEsSampler` keeps the CMA state in trial system attrs and, on every ask:
  1. recomputes the intersection search space and deep-copies it (22 distributions here);
  2. lists every completed trial, then filters them again for the current generation;
  3. restores the CMA state from the newest *completed* trial that stored one: hex-decodes and
     unpickles ~11 KB, and, while the trial that stored the newest state is still in flight
     (always, in an asynchronous search), re-runs the generation update it already did, then
     pickles and stores that state again in the new trial.
With 22 parameters that is ~1.3 ms at 240 trials and ~2 ms at 3,000 (bench/bench_optimize.py),
as much as 20% of a one-year backtest, paid on the main process.

`FastCmaEsSampler` is that same sampler (same CMA library, same state in the same attrs, same
proposals given the same told results) with three caches:
  1. the search space is the fixed one the search asks with (`search_space`), not recomputed;
  2. completed trials are indexed incrementally, by generation, from a watermark below which
     every trial is finished (finished trials never change in Optuna's storages); what is
     left per ask is two list copies of references, which C does in microseconds;
  3. the CMA state is taken from the newest trial that stored one, completed *or running*, and
     the unpickled object is reused while that trial stays the newest. A state is stored only
     after the update from completed trials, so a running trial's state is final; reading it
     means the update runs once per generation instead of once per ask, and the pickled state
     is stored (and logged) once per generation instead of on almost every trial.
With the trials told in the order they were asked, the proposals are identical to the stock
sampler's (tests/test_optimize_cma.py); with trials in flight, the generation update happens
as soon as a population is complete rather than when the trial holding the previous state
finishes, the waste Optuna's own TODO in `sample_relative` names.

These overrides touch private methods of the pinned Optuna (5.0.0). `fast_cma_supported()`
checks they exist; if a future Optuna drops them, `make_sampler` falls back to the stock
sampler, slower but the same search.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

_PRIVATE = ("_get_trials", "_get_solution_trials", "_restore_optimizer", "_attr_key_optimizer",
            "_attr_key_generation", "_consider_pruned_trials", "_with_margin",
            "_use_separable_cma")
_LIVE = (TrialState.RUNNING, TrialState.COMPLETE)


def fast_cma_supported() -> bool:
    """Whether the installed Optuna has the private methods the fast sampler overrides."""
    probe = optuna.samplers.CmaEsSampler(seed=0, warn_independent_sampling=False)
    return all(hasattr(probe, name) for name in _PRIVATE)


class FastCmaEsSampler(optuna.samplers.CmaEsSampler):
    """CmaEsSampler for one study asked with one fixed search space (module docstring)."""

    def __init__(self, *args: Any, search_space: dict[str, BaseDistribution],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._consider_pruned_trials or self._with_margin or self._use_separable_cma:
            raise ValueError("FastCmaEsSampler supports plain CMA-ES without pruned trials")
        self._fixed_space = dict(sorted(search_space.items()))  # stock's order: by name
        self._study_key: tuple[int, int] | None = None  # (storage identity, study id)
        self._settled: list[FrozenTrial] = []  # completed trials below the watermark, in order
        self._settled_by_gen: dict[int, list[FrozenTrial]] = {}
        self._settled_state: FrozenTrial | None = None  # newest settled trial with a CMA state
        self._watermark = 0  # every trial numbered below it is finished
        self._tail: list[FrozenTrial] = []  # trials from the watermark on, as of the last scan
        self._study: optuna.Study | None = None
        self._cached: tuple[int, int, Any] | None = None  # (trial id, generation, optimizer)

    # -- public sampler API ----------------------------------------------------------------
    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        """The fixed space, sorted by name as stock's intersection space is (the order of the
        CMA dimensions). Stock returns {} until a trial completes; sample_relative then
        returns {} anyway (n_startup_trials), so the first proposals are the same."""
        return dict(self._fixed_space)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        self._study = study
        try:
            return super().sample_relative(study, trial, search_space)
        finally:
            self._study = None

    # -- private hooks of CmaEsSampler -----------------------------------------------------
    def _get_trials(self, study: optuna.Study) -> list[FrozenTrial]:
        key = (id(study._storage), study._study_id)
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        if self._study_key != key or self._watermark > len(trials):
            # another study (every in-memory storage numbers its first study 0, hence the
            # storage's identity too): index it from scratch
            self._reset_index(key)
        gen_key = self._attr_key_generation
        opt_key = self._attr_key_optimizer + ":0"
        i = self._watermark
        while i < len(trials) and trials[i].state.is_finished():
            t = trials[i]
            if t.state == TrialState.COMPLETE:
                self._settled.append(t)
                self._settled_by_gen.setdefault(t.system_attrs.get(gen_key, -1), []).append(t)
                if opt_key in t.system_attrs:
                    self._settled_state = t
            i += 1
        self._watermark = i
        self._tail = trials[i:]
        return self._settled + [t for t in self._tail if t.state == TrialState.COMPLETE]

    def _get_solution_trials(self, trials: list[FrozenTrial], generation: int
                             ) -> list[FrozenTrial]:
        gen_key = self._attr_key_generation
        return self._settled_by_gen.get(generation, []) + [
            t for t in self._tail
            if t.state == TrialState.COMPLETE and t.system_attrs.get(gen_key, -1) == generation]

    def _restore_optimizer(self, completed_trials: list[FrozenTrial]) -> Any:
        opt_key = self._attr_key_optimizer + ":0"
        holder = next((t for t in reversed(self._tail)
                       if t.state in _LIVE and opt_key in t.system_attrs), self._settled_state)
        if holder is None:
            return None
        c = self._cached
        # Reuse while the holder is unchanged and the object was not advanced by a tell since
        # (a tell stores the new state in a newer trial, which becomes the holder).
        if c is not None and c[0] == holder._trial_id and c[2].generation == c[1]:
            return c[2]
        optimizer = super()._restore_optimizer([holder])
        self._cached = (holder._trial_id, optimizer.generation, optimizer)
        return optimizer

    def _reset_index(self, key: tuple[int, int]) -> None:
        self._study_key = key
        self._settled, self._settled_by_gen, self._settled_state = [], {}, None
        self._watermark, self._tail, self._cached = 0, [], None
