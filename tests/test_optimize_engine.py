"""The optimizer on the real backtester: it improves a poor start, best.json is a live config
that re-backtests to the stats it reported, Dask gives the same kind of result as local
processes, and a bad optimize section stops backtest.py with exit 2."""

import csv
import json
from dataclasses import replace
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optimize_standin import write_bt_config
from passivbot.backtest.runner import backtest_live_config
from passivbot.config import (
    backtest_config_from_dict, backtest_config_to_dict, live_config_from_dict,
    load_backtest_config, load_live_config,
)
from passivbot.optimize import optimize
from passivbot.optimize.objective import evaluate, fold_slices, score
from passivbot.optimize.run import candles_by_symbol, eval_context, load_candles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("opt")
    bt = load_backtest_config(write_bt_config(folder, iterations=30))
    return folder, bt, load_candles(bt)


@pytest.fixture(scope="module")
def local_run(setup):
    folder, bt, candles = setup
    return optimize(bt, workers=2, root=folder / "local", candles=candles, progress=False,
                    plots=False)


def test_best_beats_a_poor_start_and_re_backtests_to_its_stats(setup, local_run):
    _, bt, candles = setup
    res = local_run
    start = res.records[0]
    assert start["origin"] == "start:0" and start["stats"]["average_daily_gain"] < -0.005
    assert res.best["score"] > start["score"]
    cfg = load_live_config(res.run_dir / "best.json")  # validates as a live config
    assert cfg == res.best_config
    again = backtest_live_config(cfg, bt, candles=candles)
    assert again.stats == pytest.approx(res.best["stats"], rel=1e-12, abs=1e-12)
    reported = json.loads(next((res.run_dir / "report").rglob("stats.json")).read_text())
    assert reported == pytest.approx(res.best["stats"], rel=1e-12, abs=1e-12)


def test_a_candidate_scores_as_its_backtest_with_funding_leverage_and_warm_up(tmp_path):
    """On bundled market data (funding events; ENA's 4 h events between the 8 h mark candles
    have no mark: the candle's open prices them), every fold of every symbol scores exactly as
    the single backtest of that fold with the candidate's leverage."""
    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d.update(start_date="2025-05-05", end_date="2025-05-13", symbols=["ETHUSDT", "ENAUSDT"])
    d["optimize"].update(n_folds=2)
    bt = backtest_config_from_dict(d, str(tmp_path / "bt.json"), root=ROOT)
    candles = candles_by_symbol(bt)
    ctx = eval_context(bt, candles)
    ena = next(m for m in ctx.markets if m.symbol == "ENAUSDT").funding
    assert np.isnan(ena.mark).any() and not np.isnan(ena.mark).all()
    cand = json.loads((ROOT / "live_settings" / "ETH-J1.json").read_text())
    cand["leverage"] = 2
    cand["long"]["wallet_exposure_limit"] = 1.2
    cand["short"]["wallet_exposure_limit"] = 0.8
    res = evaluate(ctx, cand)
    assert res["error"] is None
    cfg = live_config_from_dict(cand, "candidate")
    want = []
    for s, c in candles.items():
        b = replace(bt, symbol=s, symbols=(s,))
        for sl in fold_slices(len(c), 2):
            r = backtest_live_config(cfg, b, candles=c[sl])
            assert r.candles_info["warmup_candles"] > 0 and r.candles_info["leverage"] == 2
            want.append(score(r.stats, bt.optimize.constraints))
        whole = backtest_live_config(cfg, b, candles=c)
        assert whole.stats["funding_modelled"] == 1.0 and whole.stats["funding_net"] != 0.0
    assert res["fold_scores"] == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_a_candidate_with_unstuck_and_the_equity_stop_scores_as_its_backtest(tmp_path):
    """The bounded-loss keys reach the optimizer's backtest: every fold of every symbol scores
    (and reports stats) exactly as the single backtest of that fold, on folds where unstuck
    closes happen and the stop fires; the same candidate without them scores differently."""
    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d.update(start_date="2025-05-05", end_date="2025-05-13", symbols=["ETHUSDT", "ENAUSDT"])
    d["optimize"].update(n_folds=2)
    d["optimize"]["constraints"].update(max_equity_stops=0)
    bt = backtest_config_from_dict(d, str(tmp_path / "bt.json"), root=ROOT)
    candles = candles_by_symbol(bt)
    ctx = eval_context(bt, candles)
    cand = json.loads((ROOT / "live_settings" / "ETH-J1.json").read_text())
    cand.update(leverage=2, equity_stop_drawdown=0.05, equity_stop_cooldown_minutes=720)
    for side, wel in (("long", 1.2), ("short", 0.8)):
        cand[side].update(wallet_exposure_limit=wel, unstuck_threshold=0.1,
                          unstuck_close_pct=0.2, unstuck_ema_dist=-0.01,
                          unstuck_loss_allowance_pct=0.02)
    res = evaluate(ctx, cand)
    assert res["error"] is None
    cfg = live_config_from_dict(cand, "candidate")
    want, unstuck, stops = [], 0.0, 0.0
    for s, c in candles.items():
        b = replace(bt, symbol=s, symbols=(s,))
        for sl in fold_slices(len(c), 2):
            r = backtest_live_config(cfg, b, candles=c[sl])
            want.append(score(r.stats, bt.optimize.constraints))
            unstuck += r.stats["n_unstuck_closes"]
            stops += r.stats["n_equity_stops"]
    assert unstuck > 0 and stops > 0
    assert res["fold_scores"] == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert "max_equity_stops" in res["violations"]  # the stop fired: the limit 0 is broken
    off = {**cand, "equity_stop_drawdown": 0.0,
           **{side: {**cand[side], "unstuck_threshold": 0.0, "unstuck_close_pct": 0.0,
                     "unstuck_loss_allowance_pct": 0.0} for side in ("long", "short")}}
    assert evaluate(ctx, off)["fold_scores"] != res["fold_scores"]


def test_dask_local_cluster_gives_the_same_kind_of_result(setup, local_run):
    from distributed import LocalCluster

    folder, bt, candles = setup
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        res = optimize(bt, dask_scheduler=cluster.scheduler_address, root=folder / "dask",
                       candles=candles, progress=False, plots=False)
    assert [r["number"] for r in res.records] == list(range(30))
    assert res.records[0]["origin"] == "start:0"
    # a backtest is deterministic: the start scores the same wherever it ran
    assert res.records[0]["score"] == local_run.records[0]["score"]
    assert res.records[0]["stats"] == local_run.records[0]["stats"]
    assert res.best["score"] >= res.records[0]["score"]
    assert set(res.records[5]) == set(local_run.records[5])
    assert load_live_config(res.run_dir / "best.json") == res.best_config


@pytest.mark.parametrize("bounds, message", [
    ({"long": {"ema_span_0": [1440, 60]}}, "inverted bounds"),
    ({"long": {"ema_spam_0": [60, 1440]}}, "did you mean 'ema_span_0'"),
    ({"long": {"rentry_pprice_dist": [0.01, 2.0]}}, "outside the live schema's range"),
])
def test_bad_optimize_section_exits_2_with_a_clear_message(tmp_path, bounds, message):
    path = write_bt_config(tmp_path)
    d = json.loads(path.read_text())
    d["optimize"]["bounds"] = bounds
    path.write_text(json.dumps(d))
    p = subprocess.run([sys.executable, "backtest.py", str(path), "--iterations", "5"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and "optimize.bounds.long." in p.stderr
    assert "Traceback" not in p.stderr


def test_the_console_summary_speaks_a_traders_words(tmp_path):
    """After a run: the best config's gain, daily gain, drawdown, hours stuck, closest
    liquidation and fees; what score means; how many candidates broke each constraint; the
    optimizer's own figures only with --verbose."""
    path = write_bt_config(tmp_path, days=3)
    cmd = [sys.executable, "backtest.py", str(path), "--iterations", "10", "--workers", "2",
           "--no-progress", "--no-plots", "--results", str(tmp_path / "r")]
    quiet = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    loud = subprocess.run(cmd + ["--verbose"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    out = quiet.stdout
    for label in ("gain", "average daily gain", "max drawdown", "hours stuck",
                  "closest liquidation", "fees paid", "score = average daily gain",
                  "10 candidates evaluated", "best.json:"):
        assert label in out, (label, out)
    trials = list(csv.DictReader(open(next((tmp_path / "r").rglob("trials.csv")))))
    broken = sum("max_hours_stuck" in t["violations"].split() for t in trials)
    if broken:
        assert f"max_hours_stuck by {broken} of 10" in out
    assert "overhead" not in out and "overhead" in loud.stdout


def test_the_bounded_loss_example_config_searches_the_rules_and_keeps_them_off_when_off():
    """backtest_configs/demo_bounded_loss.json loads, every candidate it draws is a valid live
    config with both rules on (inside the bounds), and a candidate with the rules off reaches
    the kernel as None (the variant compiled without them)."""
    from passivbot.backtest.engine import risk_args
    from passivbot.optimize.objective import risk_arrays
    from passivbot.optimize.space import SearchSpace

    bt = load_backtest_config("backtest_configs/demo_bounded_loss.json")
    c = bt.optimize.constraints
    assert (c.max_drawdown, c.max_unstuck_loss, c.max_equity_stops) == (0.2, 0.05, 2)
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    assert {"long.unstuck_threshold", "short.unstuck_close_pct", "equity_stop_drawdown",
            "equity_stop_cooldown_minutes"} <= set(space.names)
    rng = np.random.default_rng(0)
    for p in space.decode(rng.random((20, len(space.dims)))):
        cfg = live_config_from_dict(space.candidate(p), "candidate")
        unstuck, stop = risk_args(*risk_arrays(cfg))
        assert unstuck is not None and stop is not None
        assert 0.5 <= cfg.long.unstuck_threshold <= 0.95 and 0.1 <= cfg.equity_stop_drawdown <= 0.3
        assert cfg.equity_stop_cooldown_minutes % 60 == 0
    assert risk_args(*risk_arrays(load_live_config("ETH-J1"))) == (None, None)
