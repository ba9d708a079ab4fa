"""FastCmaEsSampler is Optuna's CMA-ES with O(1) bookkeeping: these prove it proposes what the
stock sampler proposes when trials are told in order, stores the CMA state once per generation
instead of on almost every trial when trials are in flight, and still converges."""

import collections
import warnings

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from passivbot.optimize.cma import FastCmaEsSampler, fast_cma_supported
from passivbot.optimize.search import make_sampler, tell

SPACE = {**{f"f{i:02d}": FloatDistribution(-2.0, 3.0) for i in range(18)},
         "s0": FloatDistribution(0.001, 0.01, step=0.001), "s1": FloatDistribution(0.0, 1.0),
         "i0": IntDistribution(1, 10), "i1": IntDistribution(60, 1440, step=20)}
X0 = {k: (d.low + d.high) / 2 if isinstance(d, FloatDistribution) else d.low
      for k, d in SPACE.items()}
X0["s0"], X0["i1"] = 0.005, 700
OPT = {k: d.low + 0.3 * (d.high - d.low) for k, d in SPACE.items()}


def bowl(params: dict) -> float:
    """A maximization target with its peak at OPT (scaled per dimension)."""
    return -sum(((params[k] - OPT[k]) / (d.high - d.low)) ** 2 for k, d in SPACE.items())


def stock() -> optuna.samplers.CmaEsSampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return optuna.samplers.CmaEsSampler(x0=X0, seed=7, warn_independent_sampling=False)


def fast() -> optuna.samplers.BaseSampler:
    s = make_sampler("cmaes", 7, X0, SPACE)
    assert isinstance(s, FastCmaEsSampler)
    return s


def drive(sampler, n: int, in_flight: int) -> optuna.Study:
    """Ask/tell n trials keeping `in_flight` asked but untold (told oldest first)."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    pending: collections.deque = collections.deque()
    for _ in range(n):
        pending.append(study.ask(SPACE))
        if len(pending) >= in_flight:
            t = pending.popleft()
            tell(study, t, [bowl(t.params)])
    while pending:
        t = pending.popleft()
        tell(study, t, [bowl(t.params)])
    return study


def test_the_pinned_optuna_has_what_the_fast_sampler_overrides():
    assert fast_cma_supported()


def test_told_in_order_the_fast_sampler_proposes_exactly_what_stock_cma_does():
    """70 trials = 5 generations of 13 for 22 dimensions (floats, stepped floats, ints)."""
    a, b = drive(stock(), 70, 1), drive(fast(), 70, 1)
    ta, tb = a.get_trials(deepcopy=False), b.get_trials(deepcopy=False)
    assert [t.params for t in ta] == [t.params for t in tb]
    assert [t.system_attrs.get("cma:generation") for t in ta] == \
        [t.system_attrs.get("cma:generation") for t in tb]
    assert max(t.system_attrs["cma:generation"] for t in tb[1:]) == 5


def _state_holders(study: optuna.Study) -> list[int]:
    return [t.number for t in study.get_trials(deepcopy=False) if "cma:optimizer:0" in
            t.system_attrs]


def _generations(study: optuna.Study) -> int:
    return max(t.system_attrs.get("cma:generation", 0) for t in study.get_trials(deepcopy=False))


def test_in_flight_the_state_is_updated_and_stored_once_per_generation():
    """Stock CMA-ES redoes the update (and stores 11 KB of state) on every ask while the
    trial holding the newest state is in flight; the fast one once per generation, and it
    advances at least as many generations from the same results."""
    n, depth = 200, 16
    s_stock, s_fast = drive(stock(), n, depth), drive(fast(), n, depth)
    gens = _generations(s_fast)
    assert gens >= _generations(s_stock) >= 5  # a generation: 13 results + 16 asked meanwhile
    assert len(_state_holders(s_fast)) == gens
    assert len(_state_holders(s_stock)) > 4 * _generations(s_stock)


def test_in_flight_the_fast_sampler_converges_on_the_bowl():
    study = drive(fast(), 600, 16)
    values = np.array([t.value for t in study.get_trials(deepcopy=False)])
    first = values[:13].max()
    assert values.max() > 0.2 * first  # within a fifth of the start's distance to the peak
    assert values[-50:].mean() > values[13:63].mean()


def test_a_rebuilt_study_continues_from_the_logged_state():
    """Resume: completed trials with their system attrs, added to a fresh study, give the
    sampler the same generation and state to continue from (no restart at generation 0)."""
    first = drive(fast(), 60, 4)
    done = [t for t in first.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE]
    gen = max(t.system_attrs.get("cma:generation", 0) for t in done)
    again = optuna.create_study(direction="maximize", sampler=fast())
    again.add_trials(done)
    t = again.ask(SPACE)
    assert again._storage.get_trial_system_attrs(t._trial_id)["cma:generation"] >= gen


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_it_refuses_the_variants_it_does_not_index():
    with pytest.raises(ValueError, match="plain CMA-ES"):
        FastCmaEsSampler(seed=1, search_space=SPACE, consider_pruned_trials=True)


def test_one_sampler_on_a_second_study_starts_its_index_afresh():
    """Every in-memory storage numbers its first study 0: the index must notice the new study
    and not sample it from the first one's CMA state."""
    s = fast()
    drive(s, 30, 1)
    second = drive(s, 30, 1)
    assert [t.system_attrs.get("cma:generation") for t in second.trials[:4]] == \
        [t.system_attrs.get("cma:generation") for t in drive(stock(), 4, 1).trials]
