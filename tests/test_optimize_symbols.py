"""Configs judged on several markets with the real backtester on the bundled candles: the
search scores every candidate on ETHUSDT and BTCUSDT, best.json's report holds each symbol's
stats (and they re-backtest to them), and a hold-out symbol is reported beside the score."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from passivbot.backtest.runner import backtest_live_config
from passivbot.config import (
    backtest_config_from_dict, backtest_config_to_dict, load_backtest_config,
)
from passivbot.optimize import optimize
from passivbot.optimize.summary import summary_lines

ROOT = Path(__file__).resolve().parents[1]


def bundled(tmp_path, **top):
    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d.update(start_date="2025-05-10", end_date="2025-05-14", **top)
    d["optimize"].update(iterations=12, batch_size=6)
    return backtest_config_from_dict(d, str(tmp_path / "bt.json"), root=ROOT)


def test_a_multi_symbol_search_reports_each_symbol_of_best_json(tmp_path):
    bt = bundled(tmp_path, symbols=["ETHUSDT", "BTCUSDT"])
    res = optimize(bt, workers=2, root=tmp_path, progress=False, plots=False)
    assert all(set(r["symbols"]) == {"ETHUSDT", "BTCUSDT"} for r in res.records)
    per = json.loads((res.run_dir / "symbols.json").read_text())
    assert set(per) == {"ETHUSDT", "BTCUSDT"} and per == res.symbols
    best = res.best
    for sym in ("ETHUSDT", "BTCUSDT"):
        # the report folder of each symbol holds the stats the search logged for it
        stats = json.loads(next((res.run_dir / "report" / bt.exchange / sym).rglob(
            "stats.json")).read_text())
        assert stats == pytest.approx(best["symbols"][sym]["stats"], rel=1e-12, abs=1e-12)
        assert per[sym]["score"] == pytest.approx(best["symbols"][sym]["score"], rel=1e-12)
        again = backtest_live_config(res.best_config, replace(bt, symbol=sym, symbols=(sym,)))
        assert again.stats == pytest.approx(stats, rel=1e-12, abs=1e-12)
    mean = (best["symbols"]["ETHUSDT"]["score"] + best["symbols"]["BTCUSDT"]["score"]) / 2
    assert best["score"] == pytest.approx(mean)
    text = "\n".join(summary_lines(res))
    assert "per symbol:" in text and "ETHUSDT score" in text and "BTCUSDT score" in text


def test_a_hold_out_symbol_is_reported_beside_the_best_score(tmp_path):
    bt = bundled(tmp_path, symbol="ETHUSDT")
    bt = replace(bt, optimize=replace(bt.optimize, holdout_symbols=("BTCUSDT",)))
    res = optimize(bt, workers=2, root=tmp_path, progress=False, plots=False)
    assert all("symbols" not in r for r in res.records)  # the search never saw BTCUSDT
    h = json.loads((res.run_dir / "holdout.json").read_text())
    assert list(h["symbols"]) == ["BTCUSDT"] and h["mean"] == h["worst"]
    again = backtest_live_config(res.best_config, replace(bt, symbol="BTCUSDT",
                                                          symbols=("BTCUSDT",)))
    assert h["symbols"]["BTCUSDT"]["stats"] == pytest.approx(again.stats, rel=1e-12, abs=1e-12)
    assert any(line.startswith("hold-out (never searched): BTCUSDT") for line in
               summary_lines(res))


def test_a_hold_out_symbol_that_is_also_searched_is_a_config_error(tmp_path):
    from passivbot.config import ConfigError

    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d["optimize"]["holdout_symbols"] = ["ETHUSDT"]
    with pytest.raises(ConfigError, match="also searched"):
        backtest_config_from_dict(d, "bt.json", root=ROOT)


def test_best_json_trades_the_symbol_it_was_optimized_on(tmp_path):
    """Regression: best.json took the starting config's symbol (ETHUSDT for ETH-J1) even when
    the search ran on BTCUSDT's candles."""
    from passivbot.config import load_live_config

    bt = bundled(tmp_path, symbol="BTCUSDT")
    assert bt.starting_configs[0].symbol == "ETHUSDT"
    res = optimize(bt, workers=2, root=tmp_path, progress=False, plots=False, iterations=6)
    assert load_live_config(res.run_dir / "best.json").symbol == "BTCUSDT"
