"""Population samplers: each proposes a whole generation at once and is told its results at
once, so the main process spends microseconds per candidate (bench/bench_optimize.py).

- `cmaes`: the `cmaes` library's CMA-ES on the unit cube (space.py), started at the first
  starting config with sigma 1/6 of the cube (Optuna's default), population `pop_size`.
- `nsga2`, `nsga3` (multi-objective): pymoo's NSGA-II / NSGA-III (reference directions)
  through its ask/tell interface.
- `random`: uniform points from a seeded numpy Generator.
- `tpe`: Optuna's TPESampler, asked a generation of trials at a time. TPE models every past
  trial on each ask (milliseconds a trial, growing with the trial count), so it suits short,
  slow searches; it is the one sampler that still runs through Optuna.

All maximize: `tell` takes, per point, the objective values (score first). A sampler's
`state()` (a base64 pickle, None for TPE) is logged before each generation is asked, so a
resumed run restores it and asks exactly the same generation again (resume.py). TPE has no
state to log: a resumed TPE search is rebuilt from the logged trials (`load`).
"""

from __future__ import annotations

import base64
import pickle
import warnings
from typing import Any, Protocol

import numpy as np

from passivbot.optimize.space import SearchSpace

Points = "np.ndarray | list[dict[str, Any]]"  # unit-cube rows, or params dicts (TPE)
SIGMA0 = 1 / 6
MIN_CMA_DIMS = 2  # the cmaes library needs at least two dimensions


class Sampler(Protocol):
    pop_size: int

    def ask(self) -> Any: ...

    def tell(self, points: Any, values: list[list[float]]) -> None: ...

    def state(self) -> str | None: ...


def _dump(obj: Any) -> str:
    return base64.b64encode(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)).decode()


def _load(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


class CmaSampler:
    """The cmaes library's CMA (minimizing -score) on [0, 1]^d.

    Bounds by clipping: each sample is clipped into the cube and the clipped point is what is
    evaluated and told. The library's own bound handling resamples until a sample falls
    inside (up to 100 times), which costs 2^k samples when k coordinates of the mean sit on a
    bound, as optima of a grid strategy often do; it clips after that anyway."""

    def __init__(self, dims: int, x0: np.ndarray, seed: int, pop_size: int):
        import cmaes

        self.pop_size, self._seed = pop_size, seed
        mean = np.clip(np.asarray(x0, dtype=np.float64), 0.0, 1.0)
        self._cma = cmaes.CMA(mean=mean, sigma=SIGMA0, seed=seed, population_size=pop_size)

    def ask(self) -> np.ndarray:
        # Each generation draws from a generator seeded by (seed, generation): the state to
        # log is then the CMA's numbers alone (pickling the generator's 2.5 KB state costs
        # ~170 us a generation) and a restored state asks the same points.
        cma = self._cma
        cma.reseed_rng((self._seed * 1_000_003 + cma.generation) % 2**32)
        # The whole generation in one draw: what pop_size calls of CMA.ask() return (no bounds
        # are set, so its first sample is kept: B diag(D) z scaled by sigma around the mean,
        # z drawn from the same stream in the same order), in ~0.4 us a candidate instead of
        # ~5-17 us. While the main process asks, every worker waits for the generation.
        b, d = cma._eigen_decomposition()
        z = cma._rng.randn(self.pop_size, cma.dim)
        return np.clip(cma._mean + cma._sigma * (z @ (b * d).T), 0.0, 1.0)

    def tell(self, points: np.ndarray, values: list[list[float]]) -> None:
        self._cma.tell([(x, -v[0]) for x, v in zip(points, values)])

    def state(self) -> str:
        # the attributes as they are (CMA's own pickling rebuilds the covariance from one
        # triangle), without the generator, which ask() reseeds
        return _dump((self._seed, {k: v for k, v in self._cma.__dict__.items() if k != "_rng"}))

    def restore(self, state: str) -> None:
        import cmaes

        self._seed, attrs = _load(state)
        cma = object.__new__(cmaes.CMA)
        cma.__dict__.update(attrs, _rng=np.random.RandomState(0))
        self._cma = cma


class RandomSampler:
    """Uniform points; the Generator's state is the sampler's state."""

    def __init__(self, dims: int, seed: int, pop_size: int):
        self.pop_size, self._dims = pop_size, dims
        self._rng = np.random.default_rng(seed)

    def ask(self) -> np.ndarray:
        return self._rng.random((self.pop_size, self._dims))

    def tell(self, points: np.ndarray, values: list[list[float]]) -> None:
        pass

    def state(self) -> str:
        return _dump(self._rng.bit_generator.state)

    def restore(self, state: str) -> None:
        self._rng.bit_generator.state = _load(state)


class PymooSampler:
    """A pymoo multi-objective algorithm (minimizing -values) through `Algorithm.ask` /
    `Algorithm.tell`: NSGA-II (`nsga2`), or NSGA-III (`nsga3`: survival by Das-Dennis
    reference directions, one per member of the population, which keeps the front spread
    along every objective where NSGA-II's crowding distance thins out with more objectives)."""

    def __init__(self, name: str, dims: int, n_obj: int, seed: int, pop_size: int):
        from pymoo.core.problem import Problem

        self.pop_size = pop_size
        problem = Problem(n_var=dims, n_obj=n_obj, xl=0.0, xu=1.0)
        if name == "nsga3":
            from pymoo.algorithms.moo.nsga3 import NSGA3
            from pymoo.util.ref_dirs import get_reference_directions

            ref = get_reference_directions("das-dennis", n_obj,
                                           n_partitions=nsga3_partitions(n_obj, pop_size))
            from pymoo.operators.selection.tournament import TournamentSelection

            self._algo = NSGA3(ref_dirs=ref, pop_size=pop_size, n_offsprings=pop_size,
                               selection=TournamentSelection(func_comp=_nsga3_compare),
                               eliminate_duplicates=True)
        else:
            from pymoo.algorithms.moo.nsga2 import NSGA2

            self._algo = NSGA2(pop_size=pop_size, n_offsprings=pop_size,
                               eliminate_duplicates=True)
        self._algo.setup(problem, termination=("n_gen", 10**9), seed=seed, verbose=False)
        self._pending: Any = None

    def ask(self) -> np.ndarray:
        self._pending = self._algo.ask()
        x = self._pending.get("X")
        if len(x) < self.pop_size:  # duplicates eliminated: top up with random points
            extra = self._algo.random_state.random((self.pop_size - len(x), x.shape[1]))
            x = np.vstack([x, extra])
        return np.asarray(x[:self.pop_size], dtype=np.float64)

    def tell(self, points: np.ndarray, values: list[list[float]]) -> None:
        from pymoo.core.population import Population

        pop = Population.new("X", np.asarray(points))
        pop.set("F", -np.asarray(values, dtype=np.float64))
        self._algo.tell(infills=pop)
        self._pending = None

    def state(self) -> str:
        return _dump(self._algo)

    def restore(self, state: str) -> None:
        self._algo = _load(state)


def _nsga3_compare(pop: Any, P: Any, random_state: Any = None, **kwargs: Any) -> Any:
    """pymoo's NSGA-III tournament (comp_by_cv_then_random) from a module-level function: the
    library's own is wrapped by a decorator's local function, which pickle cannot name, and
    the sampler's state is the pickled algorithm (resume)."""
    from pymoo.algorithms.moo.nsga3 import comp_by_cv_then_random

    return comp_by_cv_then_random(pop, P, random_state=random_state, **kwargs)


def nsga3_partitions(n_obj: int, pop_size: int) -> int:
    """The most Das-Dennis partitions whose reference directions (C(p + m - 1, m - 1) for m
    objectives) do not outnumber the population."""
    from math import comb

    if n_obj < 2:
        return 1
    p = 1
    while comb(p + 1 + n_obj - 1, n_obj - 1) <= pop_size:
        p += 1
    return p


class TpeSampler:
    """Optuna's multivariate TPE, asked a generation at a time (module docstring)."""

    def __init__(self, space: SearchSpace, n_obj: int, seed: int, pop_size: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.pop_size = pop_size
        self._dists = space.optuna_distributions()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # multivariate is experimental
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        self._study = optuna.create_study(directions=["maximize"] * n_obj, sampler=sampler)
        self._trials: list[Any] = []

    def ask(self) -> list[dict[str, Any]]:
        self._trials = [self._study.ask(self._dists) for _ in range(self.pop_size)]
        return [t.params for t in self._trials]

    def tell(self, points: list[dict[str, Any]], values: list[list[float]]) -> None:
        for t, v in zip(self._trials, values):
            self._study.tell(t, v)
        self._trials = []

    def state(self) -> None:
        return None

    def load(self, records: list[dict[str, Any]]) -> None:
        """Resume: add the logged trials as finished ones (TPE keeps no other state)."""
        import optuna

        self._study.add_trials([optuna.trial.create_trial(
            values=r["values"], params=r["params"],
            distributions={k: self._dists[k] for k in r["params"]}) for r in records
            if not r.get("error") and set(r["params"]) == set(self._dists)])


def make_sampler(name: str, space: SearchSpace, seed: int, pop_size: int, x0: np.ndarray,
                 n_obj: int = 1) -> Sampler:
    """The sampler for the config's `sampler` choice. With fewer than two searched keys CMA-ES
    cannot run (the cmaes library needs two): random search is used instead."""
    d = len(space.dims)
    if name == "cmaes" and d >= MIN_CMA_DIMS:
        return CmaSampler(d, x0, seed, pop_size)
    if name in ("cmaes", "random"):
        return RandomSampler(d, seed, pop_size)
    if name in ("nsga2", "nsga3"):
        return PymooSampler(name, d, n_obj, seed, pop_size)
    if name == "tpe":
        return TpeSampler(space, n_obj, seed, pop_size)
    raise ValueError(f"unknown sampler {name!r}")


def default_pop_size(name: str, dims: int) -> int:
    """CMA-ES's default population for `dims` (4 + 3 ln d); NSGA-II/III's usual minimum 20 (a
    population per generation for the others)."""
    if name == "cmaes":
        return 4 + int(3 * np.log(max(dims, 1)))
    return 20 if name in ("nsga2", "nsga3") else 8
