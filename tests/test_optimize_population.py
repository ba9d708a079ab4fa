"""Population ask/tell: a resumed run continues exactly where it stopped (the logged sampler
state re-asks the same generation, holes left by a kill are filled under the same numbers), the
samplers propose whole generations in the unit cube, and a candidate is scored on several
symbols (mean or worst) with per-symbol results logged."""

import json
from dataclasses import replace

import numpy as np
import pytest

from passivbot.config import load_backtest_config
from passivbot.optimize import optimize
from passivbot.optimize.resume import read_generations, read_log
from passivbot.optimize.samplers import make_sampler
from passivbot.optimize.search import chunks
from passivbot.optimize.space import SearchSpace

STANDIN = "optimize_standin:stats"
CANDLES = np.zeros((1440, 6))


@pytest.fixture(scope="module")
def bt():
    return load_backtest_config("backtest_configs/demo.json")


def small(bt, **opt):
    return replace(bt, optimize=replace(bt.optimize, **opt))


def run(bt, root, **kw):
    kw.setdefault("workers", 2)
    return optimize(bt, root=root, candles=CANDLES, evaluator=STANDIN, report=False,
                    progress=False, **kw)


def _trials(records):
    return [(r["number"], r["origin"], r["params"], r["values"]) for r in records]


@pytest.mark.parametrize("sampler, batch", [("cmaes", 8), ("nsga2", 8), ("nsga3", 8),
                                            ("random", 8), ("cmaes", 0)])
def test_a_resumed_run_finds_exactly_the_trials_of_an_uninterrupted_one(bt, tmp_path, sampler,
                                                                        batch):
    """Stopped inside a generation (iterations 23 with populations of 8, or the auto
    population of 2 workers), resumed to 50 on one worker: the same trials as one run of 50,
    because the logged state re-asks the same generation and the run keeps its population."""
    cfg = small(bt, batch_size=batch, sampler=sampler, multi_objective=sampler.startswith("nsga"))
    whole = run(cfg, tmp_path / "whole", iterations=50)
    part = run(cfg, tmp_path / "part", iterations=23)
    resumed = optimize(None, resume=part.run_dir, iterations=50, workers=1, candles=CANDLES,
                       report=False, progress=False)
    assert _trials(resumed.records) == _trials(whole.records)
    assert [r["number"] for r in resumed.records] == list(range(50))


def test_a_kill_mid_generation_loses_nothing_logged_and_fills_the_holes(bt, tmp_path):
    """A kill leaves holes where tasks were in flight (results are logged as tasks finish, in
    any order): resume evaluates exactly the missing candidates, under their numbers, and the
    search goes on as if nothing had happened."""
    cfg = small(bt, batch_size=8)
    whole = run(cfg, tmp_path / "whole", iterations=41)
    part = run(cfg, tmp_path / "part", iterations=41)
    log = part.run_dir / "trials.jsonl"
    # the log as a kill during generation 3 (trials 25-32) leaves it: the tasks holding 26, 28
    # and 31 were in flight, nothing after them was asked
    kept = []
    for ln in log.read_text().splitlines():
        rec = json.loads(ln)
        if rec.get("generation") == 4:
            break
        if rec.get("number") not in (26, 28, 31):
            kept.append(ln)
    log.write_text("\n".join(kept) + "\n")
    before = read_log(log)
    resumed = optimize(None, resume=part.run_dir, iterations=41, workers=2, candles=CANDLES,
                       report=False, progress=False)
    assert all(r in resumed.records for r in before)  # nothing logged changed
    assert _trials(resumed.records) == _trials(whole.records)
    raw = [json.loads(ln)["number"] for ln in log.read_text().splitlines()
           if '"number"' in ln]
    assert sorted(raw) == list(range(41))  # each trial in the log once


def test_generations_are_logged_with_their_numbers_and_the_starts(bt, tmp_path):
    res = run(small(bt, batch_size=8), tmp_path, iterations=20)
    gens = read_generations(res.run_dir / "trials.jsonl")
    assert [g["generation"] for g in gens] == [0, 1, 2]
    assert gens[0]["starts"] == [0] and gens[0]["numbers"] == list(range(1, 9))
    assert gens[2]["numbers"] == list(range(17, 20))  # the last one cut at the total
    assert all(isinstance(g["state"], str) for g in gens)


def test_tasks_shrink_toward_the_end_of_a_generation():
    assert chunks(16, 2) == [8, 4, 2, 1, 1]
    c = chunks(128, 16)
    assert sum(c) == 128 and c[0] == 8 and c[-1] == 1 and c == sorted(c, reverse=True)
    assert sum(chunks(1000, 16, 8)) == 1000 and max(chunks(1000, 16, 8)) == 8
    assert chunks(0, 4) == []


def test_tasks_hold_enough_candidates_to_pay_for_their_cost_but_every_worker_gets_one():
    """A costly task (Dask: ~2 ms of the main process's CPU) over short backtests: at least
    min_chunk candidates a task, or one task a worker when that would leave some idle."""
    assert chunks(512, 16, 8, 23) == [32] * 16  # under 4 tasks of 23 a worker: even split
    assert chunks(33, 2, 8, 50) == [17, 16]  # capped at n/workers: both workers busy
    c = chunks(1024, 4, 8, 5)  # plenty a worker: shrinking tasks, none under 5
    assert sum(c) == 1024 and c[0] == 8 and c == sorted(c, reverse=True)
    assert min(c[:-1]) == 5  # the last task takes what is left
    assert chunks(10, 4, 8, 1) == [3, 2, 2, 1, 1, 1]


def test_the_cma_generation_is_what_the_library_asks_one_by_one(bt):
    """CmaSampler draws a generation in one matrix product: the points cmaes.CMA.ask() gives
    one at a time from the same state and stream (up to rounding), clipped into the cube."""
    import copy

    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    x0 = space.encode(space.params_of(bt.starting_configs[0])[0])
    s = make_sampler("cmaes", space, 5, 24, x0)
    for g in range(3):
        ref = copy.deepcopy(s._cma)
        ref.reseed_rng((5 * 1_000_003 + ref.generation) % 2**32)
        want = np.clip([ref.ask() for _ in range(24)], 0, 1)
        got = s.ask()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        s.tell(got, [[-float(((p - 0.3) ** 2).sum())] for p in got])


@pytest.mark.parametrize("name", ["cmaes", "random", "nsga2", "nsga3", "tpe"])
def test_each_sampler_proposes_a_whole_generation_inside_the_space(bt, name):
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    x0 = space.encode(space.params_of(bt.starting_configs[0])[0])
    s = make_sampler(name, space, 3, 12, x0, n_obj=2 if name.startswith("nsga") else 1)
    for _ in range(3):
        pts = s.ask()
        assert len(pts) == 12
        params = pts if name == "tpe" else space.decode(pts)
        assert all(d.lo <= p[d.name] <= d.hi for p in params for d in space.dims)
        s.tell(pts, [[-float(i), -1.0][:2 if name.startswith("nsga") else 1] for i in range(12)])


def test_cma_es_climbs_the_stand_in_bowl_from_the_start(bt, tmp_path):
    res = run(small(bt, batch_size=16), tmp_path, iterations=300)
    scores = [r["score"] for r in res.records]
    assert max(scores) > scores[0]
    assert np.mean(scores[-48:]) > np.mean(scores[1:49])  # later generations score higher


@pytest.mark.parametrize("how", ["mean", "worst"])
def test_several_symbols_score_by_the_mean_or_the_worst(bt, tmp_path, how):
    """The stand-in's gain falls with the mean close price, so the two symbols' scores
    differ; the trial's score combines them as configured."""
    eth = np.zeros((1440, 6))
    btc = np.zeros((1440, 6))
    btc[:, 4] = 1.0
    cfg = replace(small(bt, batch_size=8, symbol_score=how), symbols=("ETHUSDT", "BTCUSDT"))
    res = optimize(cfg, workers=2, root=tmp_path, candles={"ETHUSDT": eth, "BTCUSDT": btc},
                   evaluator="optimize_standin:per_symbol_stats", report=False,
                   progress=False, iterations=12)
    for r in res.records:
        per = r["symbols"]
        assert set(per) == {"ETHUSDT", "BTCUSDT"}
        s = [per["ETHUSDT"]["score"], per["BTCUSDT"]["score"]]
        assert s[0] != s[1]
        assert r["score"] == pytest.approx(np.mean(s) if how == "mean" else min(s))


def test_a_run_exports_to_an_optuna_storage_with_every_trial(bt, tmp_path):
    import optuna

    from passivbot.optimize.export import export_run

    res = run(small(bt, batch_size=8), tmp_path, iterations=20)
    url = f"sqlite:///{tmp_path / 'o.db'}"
    name = export_run(res.run_dir, url)
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    assert [t.user_attrs["number"] for t in trials] == list(range(20))
    assert [t.values for t in trials] == [r["values"] for r in res.records]
    assert trials[0].user_attrs["origin"] == "start:0"
    assert trials[5].params == res.records[5]["params"]


def test_a_dask_task_s_pickled_results_come_back_as_results_and_cancels_pass_both_ways():
    """DaskExecutor returns each task's results as one pickle (Dask would serialize a list
    element by element) behind a concurrent.futures future: its result, its exception, and a
    cancellation from either side (the search cancels tasks in flight on Ctrl-C) go through,
    and a cancellation from Dask wakes whoever waits on the future."""
    import concurrent.futures as cf
    import pickle
    import threading

    from passivbot.optimize.executor import _unpickled

    inner = cf.Future()
    outer = _unpickled(inner)
    inner.set_result(pickle.dumps([(3, 0.5, [0.5], 0.01, 0.01, "{}")]))
    assert outer.result(timeout=1) == [(3, 0.5, [0.5], 0.01, 0.01, "{}")]
    inner = cf.Future()
    outer = _unpickled(inner)
    inner.set_exception(ValueError("worker died"))
    with pytest.raises(ValueError, match="worker died"):
        outer.result(timeout=1)
    inner = cf.Future()
    outer = _unpickled(inner)
    outer.cancel()
    assert inner.cancelled()
    inner = cf.Future()
    outer = _unpickled(inner)
    t = threading.Timer(0.05, lambda: (inner.cancel(), inner.set_running_or_notify_cancel()))
    t.start()
    done, _ = cf.wait([outer], timeout=5)
    t.join()
    assert outer in done and outer.cancelled()


def test_the_next_generation_is_submitted_before_the_last_results_are_logged(bt, tmp_path):
    """Between generations every worker waits: the main process tells and submits the next
    generation first and only then logs the last task's results (and runs the progress and
    best.json callbacks); the log still reads in generation order (each generation's trials
    before the next generation's record), which resume relies on."""
    import concurrent.futures as cf

    from passivbot.optimize.resume import TrialLog
    from passivbot.optimize.search import Search

    events = []

    class Instant:
        n_workers, task_cost_s = 2, 0.0

        def submit_many(self, tasks):
            out = []
            for numbers, _, points in tasks:
                events.append(("submit", numbers[0]))
                f = cf.Future()
                f.set_result([(n, -float(((p - 0.3) ** 2).sum()), [-float(((p - 0.3) ** 2)
                                                                          .sum())], 0.001,
                               0.001, f'{{"number":{n}}}') for n, p in zip(numbers, points)])
                out.append(f)
            return out

    class Log(TrialLog):
        def write_line(self, line):
            rec = json.loads(line)
            events.append(("line", rec["number"]) if "number" in rec else
                          ("generation", rec["generation"]))
            super().write_line(line)

    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    x0 = space.encode(space.params_of(bt.starting_configs[0])[0])
    log = Log(tmp_path / "trials.jsonl")
    Search(make_sampler("cmaes", space, 0, 8, x0), Instant(), log).run(24)
    log.close()
    lines = [n for k, n in events if k == "line"]
    assert sorted(lines) == list(range(24))
    for g in (1, 2):
        first_submit = events.index(("submit", 8 * g))
        last_line = max(i for i, (k, n) in enumerate(events) if k == "line" and n < 8 * g)
        header = events.index(("generation", g))
        assert first_submit < last_line < header
        assert all(n >= 8 * g for k, n in events[header:] if k == "line")
