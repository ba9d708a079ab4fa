"""Optimizer mechanics with a stand-in evaluator (tests/optimize_standin.py: a quadratic bowl
with a known optimum), so they prove the search, space, log and resume independent of the
engine: steps and ints respected, starts evaluated first, best >= start, resume exact."""

import json
from dataclasses import replace

import numpy as np
import pytest
from passivbot.config import Bound, Constraints, load_backtest_config
from passivbot.optimize import optimize, score, violations
from passivbot.optimize.objective import PENALTY_OFFSET, fold_slices
from passivbot.optimize.output import pareto_records
from passivbot.optimize.resume import read_log
from passivbot.optimize.space import SearchSpace

STANDIN = "optimize_standin:stats"
CANDLES = np.zeros((1440, 6))


@pytest.fixture(scope="module")
def bt():
    return load_backtest_config("backtest_configs/demo.json")


def small(bt, **opt):
    return replace(bt, optimize=replace(bt.optimize, **opt))


def run(bt, tmp_path, **kw):
    kw.setdefault("iterations", 40)
    return optimize(bt, workers=2, root=tmp_path, candles=CANDLES, evaluator=STANDIN,
                    report=False, progress=False, **kw)


def test_space_ints_steps_and_fixed_bounds(bt):
    bounds = {"leverage": Bound(7, 7), "long.n_close_orders": Bound(1, 10, 1),
              "long.min_markup": Bound(0.001, 0.01, 0.001), "long.ddown_factor": Bound(0.1, 2)}
    sp = SearchSpace.build(bounds, bt.starting_configs[0])
    dims = {d.name: d for d in sp.dims}
    assert "leverage" not in dims and sp.base["leverage"] == 7
    assert dims["long.n_close_orders"].is_int and dims["long.n_close_orders"].step == 1
    assert dims["long.min_markup"].step == 0.001
    assert dims["long.ddown_factor"].step is None
    # the unit cube's corners and middle decode onto the bounds and grids
    lo, mid, hi = sp.decode(np.array([[0.0] * 3, [0.5] * 3, [1.0] * 3]))
    assert lo == {"long.ddown_factor": 0.1, "long.min_markup": 0.001, "long.n_close_orders": 1}
    assert hi == {"long.ddown_factor": 2.0, "long.min_markup": 0.01, "long.n_close_orders": 10}
    assert mid["long.ddown_factor"] == pytest.approx(1.05)
    assert type(mid["long.n_close_orders"]) is int
    assert mid["long.min_markup"] in (0.005, 0.006)
    # every grid value gets an equal share of the cube: 10 ints, each from a tenth of [0, 1]
    xs = (np.arange(1000) + 0.5) / 1000
    ints = [p["long.n_close_orders"] for p in sp.decode(np.c_[xs, xs, xs])]
    assert [ints.count(k) for k in range(1, 11)] == [100] * 10
    # encode is decode's inverse on grid values
    p = {"long.ddown_factor": 0.7, "long.min_markup": 0.004, "long.n_close_orders": 3}
    assert sp.decode(sp.encode(p))[0] == pytest.approx(p)
    cand = sp.candidate({"long.n_close_orders": 3, "long.min_markup": 0.004})
    assert cand["long"]["n_close_orders"] == 3 and type(cand["long"]["n_close_orders"]) is int
    assert cand["short"] == sp.base["short"]
    params, moved = sp.params_of(bt.starting_configs[0])
    assert moved == [] and params["long.n_close_orders"] == 5


def test_score_penalizes_each_broken_constraint():
    c = Constraints(min_liquidation_distance=0.25, max_hours_stuck=100, max_drawdown=0.5,
                    min_daily_fills=1)
    ok = {"average_daily_gain": 0.002, "closest_liquidation_distance": 0.5,
          "max_hours_stuck": 50, "max_drawdown": 0.1, "fills_per_day": 3, "liquidated": 0.0}
    assert score(ok, c) == 0.002 and violations(ok, c) == {}
    for key, bad, name in [("closest_liquidation_distance", 0.2, "min_liquidation_distance"),
                           ("max_hours_stuck", 150, "max_hours_stuck"),
                           ("max_drawdown", 0.6, "max_drawdown"),
                           ("fills_per_day", 0.5, "min_daily_fills")]:
        st = {**ok, key: bad}
        assert set(violations(st, c)) == {name}
        assert score(st, c) < score(ok, c) - PENALTY_OFFSET
    worse = {**ok, "max_drawdown": 0.9}
    assert score(worse, c) < score({**ok, "max_drawdown": 0.6}, c)  # nearer valid scores higher


def test_fold_slices_are_contiguous_and_cover():
    sl = fold_slices(1000, 3)
    assert sl[0].start == 0 and sl[-1].stop == 1000
    assert all(a.stop == b.start for a, b in zip(sl, sl[1:]))


@pytest.mark.parametrize("sampler", ["cmaes", "tpe", "random"])
def test_search_starts_with_the_start_and_never_ends_worse(bt, tmp_path, sampler):
    res = run(small(bt, sampler=sampler, seed=1), tmp_path)
    recs = res.records
    assert [r["number"] for r in recs] == list(range(40))
    assert recs[0]["origin"] == "start:0"
    assert res.best["score"] >= recs[0]["score"]
    assert res.best["score"] > recs[0]["score"]  # the stand-in's start is off its optimum
    for r in recs:  # steps and ints as configured
        assert isinstance(r["params"]["long.n_close_orders"], int)
    saved = json.loads((res.run_dir / "best.json").read_text())
    assert saved == {**saved, "leverage": 7}
    lines = (res.run_dir / "trials.csv").read_text().splitlines()
    assert len(lines) == 41 and "long.ddown_factor" in lines[0] and "score" in lines[0]


def test_resume_in_process_continues_numbers_and_keeps_history(bt, tmp_path):
    first = run(bt, tmp_path, iterations=20)
    before = read_log(first.run_dir / "trials.jsonl")
    res = optimize(None, resume=first.run_dir, iterations=36, workers=2, candles=CANDLES,
                   report=False, progress=False)
    after = read_log(res.run_dir / "trials.jsonl")
    assert [r["number"] for r in after] == list(range(36))
    assert after[:20] == before
    assert sum(r["origin"] == "start:0" for r in after) == 1  # the start is not re-run


@pytest.mark.parametrize("sampler", ["nsga2", "nsga3"])
def test_multi_objective_writes_the_pareto_front(bt, tmp_path, sampler):
    res = run(small(bt, sampler=sampler, multi_objective=True), tmp_path, iterations=30)
    front = json.loads((res.run_dir / "pareto.json").read_text())
    assert front and (res.run_dir / "pareto.csv").is_file()
    assert [p["number"] for p in front] == [r["number"] for r in pareto_records(res.records)]
    vals = [(p["score"], -p["max_drawdown"]) for p in front]
    for a in vals:  # no point of the front dominates another
        assert not any(b[0] >= a[0] and b[1] >= a[1] and b != a for b in vals)


def test_folds_score_by_the_worst_or_the_mean_fold(bt):
    from passivbot.optimize.objective import combine

    stats = [{"average_daily_gain": g, "max_drawdown": d} for g, d in ((0.01, 0.1), (-0.02, 0.3))]
    assert combine(stats, [0.01, -0.02], "worst") == (-0.02, stats[1])
    sc, mean = combine(stats, [0.01, -0.02], "mean")
    assert sc == pytest.approx(-0.005) and mean["max_drawdown"] == pytest.approx(0.2)


def test_an_invalid_candidate_is_a_scored_trial_with_its_error_not_a_crash(bt):
    from passivbot.optimize.objective import INVALID_SCORE, EvalContext, evaluate

    from passivbot.optimize.objective import MarketData

    ctx = EvalContext((MarketData("ETHUSDT", CANDLES, np.zeros(4), np.zeros((1, 3)), 0.0),),
                      1000.0, 0.0002, 0.0005, Constraints(), evaluator=STANDIN)
    sp = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    cand = sp.candidate({"leverage": 1, "long.wallet_exposure_limit": 1.0,
                         "short.wallet_exposure_limit": 0.5})
    res = evaluate(ctx, cand)
    assert res["score"] == INVALID_SCORE and "must be <= leverage" in res["error"]
    ok = evaluate(ctx, sp.candidate({}))
    assert ok["error"] is None and ok["score"] > INVALID_SCORE


def test_n_folds_runs_every_fold_and_logs_fold_scores(bt, tmp_path):
    res = run(small(bt, n_folds=3, fold_score="mean"), tmp_path, iterations=8)
    assert all(len(r["fold_scores"]) == 3 for r in res.records)
    r = res.records[0]
    assert r["score"] == pytest.approx(sum(r["fold_scores"]) / 3)


def test_the_local_pool_starts_the_search_on_every_worker(bt, tmp_path, monkeypatch):
    """Each worker warms up in its initializer; the pool returns only when all have, so the
    first tasks run side by side (they used to queue on the worker that was up first)."""
    from passivbot.optimize.executor import LocalExecutor, _pid_after
    from passivbot.optimize.run import eval_context

    monkeypatch.setenv("PB_TEST_SLOW_START_DIR", str(tmp_path))  # spawned workers inherit it
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    ctx = eval_context(bt, np.zeros((5000, 6)), "optimize_standin:slow_start_stats",
                       warmup=space.candidate(space.params_of(bt.starting_configs[0])[0]))
    ex = LocalExecutor(ctx, 2)
    try:
        probes = [ex._pool.submit(_pid_after, 0.3) for _ in range(2)]
        assert len({f.result(timeout=30) for f in probes}) == 2
    finally:
        ex.close()


def _trials(res):
    return [(r["number"], r["origin"], r["params"], r["values"]) for r in res.records]


@pytest.mark.parametrize("sampler", ["cmaes", "tpe"])
def test_a_run_is_reproducible_and_the_same_on_1_and_on_2_workers(bt, tmp_path, sampler):
    """A generation is told at once, in candidate order, whatever order its tasks finish in:
    the same config, seed and population (batch_size) give the same trials run after run
    and on any number of workers."""
    cfg = small(bt, batch_size=6, sampler=sampler)  # small tasks: they finish out of order
    runs = [optimize(cfg, workers=w, root=tmp_path / f"{i}", candles=CANDLES,
                     evaluator="optimize_standin:jitter_stats", report=False, progress=False,
                     iterations=40)
            for i, w in enumerate((2, 2, 1))]
    assert len(runs[0].records) == 40
    assert _trials(runs[0]) == _trials(runs[1]) == _trials(runs[2])


@pytest.mark.parametrize("share", [True, False])
def test_workers_see_the_candles_shared_or_copied_and_close_frees_them(bt, share):
    """Shared: one block every worker maps (no copy per worker), its name unlinked once they
    all have, so a kill -9 cannot leave it behind in /dev/shm."""
    from multiprocessing import shared_memory

    from passivbot.optimize.executor import LocalExecutor
    from passivbot.optimize.run import eval_context

    candles = np.random.default_rng(5).random((3000, 6))
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    cand = space.params_of(bt.starting_configs[0])[0]
    ex = LocalExecutor(eval_context(bt, candles, STANDIN, space=space), 2, share_candles=share)
    if share:
        with pytest.raises(FileNotFoundError):  # unlinked already, still mapped by the workers
            shared_memory.SharedMemory(name=ex._shm.name)
    try:
        out = [ex.submit(([i], "search", [cand])) for i in range(4)]
        sums = [json.loads(r[-1])["stats"]["close_sum"] for f in out for r in f.result(timeout=30)]
    finally:
        ex.close()
    assert sums == [float(candles[:, 4].sum())] * 4


def test_shared_memory_too_small_falls_back_to_a_copy_per_worker(bt, monkeypatch, capsys):
    """A block the tmpfs cannot back would kill the run with SIGBUS when filled: check first,
    say so, and give each worker its own copy."""
    from passivbot.optimize import executor
    from passivbot.optimize.run import eval_context

    assert executor.shm_has_room(1024)
    assert not executor.shm_has_room(1 << 60)
    monkeypatch.setattr(executor, "shm_has_room", lambda n: False)
    candles = np.random.default_rng(6).random((2000, 6))
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    cand = space.params_of(bt.starting_configs[0])[0]
    ex = executor.LocalExecutor(eval_context(bt, candles, STANDIN, space=space), 1,
                                share_candles=True)
    try:
        assert ex._shm is None
        (*_, line), = ex.submit(([0], "search", [cand])).result(timeout=30)
    finally:
        ex.close()
    assert json.loads(line)["stats"]["close_sum"] == float(candles[:, 4].sum())
    assert "own copy of the candles" in capsys.readouterr().err


def test_bounds_on_unstuck_and_stop_keys_are_searched_and_reach_the_evaluator(bt, tmp_path):
    """A bound on an unstuck key and on the equity stop varies them across trials, and each
    trial's values are the arrays the evaluator backtests with (not the starting config's)."""
    long_on = {"long.unstuck_close_pct": Bound(0.1, 0.1),
               "long.unstuck_loss_allowance_pct": Bound(0.02, 0.02)}
    b = small(bt, sampler="random", bounds={
        **bt.optimize.bounds, **long_on, "long.unstuck_threshold": Bound(0.3, 0.9),
        "equity_stop_drawdown": Bound(0.05, 0.3)})
    res = optimize(b, workers=2, root=tmp_path, candles=CANDLES, iterations=24,
                   evaluator="optimize_standin:risk_stats", report=False, progress=False)
    search = [r for r in res.records if r["origin"] == "search"]
    assert len(search) >= 20 and all(r["error"] is None for r in search)
    th = [r["params"]["long.unstuck_threshold"] for r in search]
    dd = [r["params"]["equity_stop_drawdown"] for r in search]
    assert len(set(th)) == len(th) and min(th) >= 0.3 and max(th) <= 0.9
    assert len(set(dd)) == len(dd) and min(dd) >= 0.05 and max(dd) <= 0.3
    for r in search:
        assert r["stats"]["risk_long_threshold"] == r["params"]["long.unstuck_threshold"]
        assert r["stats"]["risk_stop_drawdown"] == r["params"]["equity_stop_drawdown"]


def test_max_loss_constraints():
    """max_equity_stops (-1 = any) and max_unstuck_loss (share of the starting balance, from
    final equity / (1 + gain)) break like the other constraints."""
    c = Constraints(max_equity_stops=1, max_unstuck_loss=0.05)
    ok = {"average_daily_gain": 0.002, "closest_liquidation_distance": 0.5,
          "max_hours_stuck": 10.0, "max_drawdown": 0.1, "fills_per_day": 5.0,
          "liquidated": 0.0, "n_equity_stops": 1.0, "unstuck_loss": 40.0, "gain": 0.0,
          "final_equity": 1000.0}  # 40 / 1000 = 4 % of the starting balance
    assert violations(ok, c) == {}
    assert violations({**ok, "n_equity_stops": 3.0}, c) == {"max_equity_stops": 2.0}
    # starting balance 1000 (final 800 at gain -20 %): 60 / 1000 = 6 % > 5 %
    v = violations({**ok, "unstuck_loss": 60.0, "gain": -0.2, "final_equity": 800.0}, c)
    assert set(v) == {"max_unstuck_loss"} and v["max_unstuck_loss"] == pytest.approx(0.2)
    assert violations({**ok, "n_equity_stops": 0.0}, Constraints(max_equity_stops=0)) == {}
    assert violations({**ok, "n_equity_stops": 9.0}, Constraints()) == {}  # -1: any number
