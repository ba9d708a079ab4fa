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
    d.update({"start_date": "2025-05-10", "end_date": "2025-05-14", **top})
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


def test_a_hold_out_period_is_never_searched_and_reported_beside_the_score(tmp_path):
    """holdout_days 1 of 2025-05-10..14: every candidate is scored on 05-10..12 only; the best
    config's score on 05-13 (its own backtest there) is reported beside its search score, in
    holdout_period.json and on the console; best.json re-backtests to its search stats over
    the searched days."""
    bt = bundled(tmp_path, symbol="ETHUSDT")
    bt = replace(bt, optimize=replace(bt.optimize, holdout_days=1))
    res = optimize(bt, workers=1, root=tmp_path, progress=False, plots=False)
    searched = replace(bt, end_date=bt.end_date.replace(day=13))
    again = backtest_live_config(res.best_config, searched)
    assert again.stats == pytest.approx(res.best["stats"], rel=1e-12, abs=1e-12)
    whole = backtest_live_config(res.best_config, bt)  # the held day changes the stats
    assert whole.stats["fills_per_day"] != pytest.approx(res.best["stats"]["fills_per_day"])
    h = json.loads((res.run_dir / "holdout_period.json").read_text())
    assert h["days"] == 1 and h["start"] == "2025-05-13" and h == res.holdout_period
    held = backtest_live_config(res.best_config, replace(bt, start_date=bt.end_date.replace(
        day=13)))
    assert h["symbols"]["ETHUSDT"]["stats"] == pytest.approx(held.stats, rel=1e-12, abs=1e-12)
    from passivbot.optimize.objective import score

    assert h["score"] == pytest.approx(score(held.stats, bt.optimize.constraints))
    line = next(ln for ln in summary_lines(res) if ln.startswith("hold-out period"))
    assert "the last 1 days, from 2025-05-13" in line and f"{h['score']:.4g}" in line
    assert f"the search's {res.best['score']:.4g}" in line


@pytest.mark.parametrize("days, message", [
    (4, "must be < 4, the days from start_date to end_date"),
    (-1, "optimize.holdout_days"),
    ("2", "optimize.holdout_days"),
])
def test_a_hold_out_period_as_long_as_the_dates_exits_2_naming_file_key_and_range(
        tmp_path, days, message):
    import subprocess
    import sys

    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d.update(start_date="2025-05-10", end_date="2025-05-14")
    d["optimize"]["holdout_days"] = days
    path = tmp_path / "bt.json"
    path.write_text(json.dumps(d))
    p = subprocess.run([sys.executable, "backtest.py", str(path), "--iterations", "5"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and str(path) in p.stderr and "Traceback" not in p.stderr


def test_a_one_wallet_search_backtests_every_candidate_on_all_symbols_at_once(tmp_path):
    """optimize.one_wallet: each candidate is one multi-symbol backtest (ETH, BTC, SOL on one
    wallet, by multi_runner.backtest_multi_config), scored on the account; best.json is that
    multi-symbol config and re-backtests to the stats the search logged; each symbol's share
    is logged and reported."""
    from passivbot.backtest.multi_runner import backtest_multi_config
    from passivbot.config.multi import load_multi_config
    from passivbot.optimize.objective import score

    syms = ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
    bt = bundled(tmp_path, symbols=syms, end_date="2025-05-12")
    bt = replace(bt, optimize=replace(bt.optimize, one_wallet=True))
    res = optimize(bt, workers=2, root=tmp_path, progress=False, plots=False)
    ok = [r for r in res.records if not r["error"]]
    assert ok and all(set(r["symbols"]) == set(syms) for r in ok)
    assert res.records[0]["origin"] == "start:0"
    assert res.best["score"] >= res.records[0]["score"]
    cfg = load_multi_config(res.run_dir / "best.json")
    assert cfg.symbols == tuple(syms) and cfg.n_positions == 3
    assert cfg.total_wallet_exposure_limit == (res.best["params"]["long.wallet_exposure_limit"],
                                               res.best["params"]["short.wallet_exposure_limit"])
    again = backtest_multi_config(cfg, bt)
    assert again.stats["account"] == pytest.approx(res.best["stats"], rel=1e-12, abs=1e-12)
    assert res.best["score"] == pytest.approx(score(again.stats["account"],
                                                    bt.optimize.constraints))
    per = json.loads((res.run_dir / "symbols.json").read_text())
    assert per["stats"] == pytest.approx(res.best["stats"], rel=1e-12, abs=1e-12)
    assert set(per["symbols"]) == set(syms)
    # the symbols' fills add up to the account's
    assert sum(v["n_fills"] for v in per["symbols"].values()) == res.best["stats"]["n_fills"]
    text = "\n".join(summary_lines(res))
    assert "every symbol on one wallet" in text and "one wallet, per symbol:" in text


@pytest.mark.parametrize("extra, message", [
    ({"symbols": ["ETHUSDT"]}, "needs at least 2 `symbols`"),
    ({"optimize": {"n_folds": 2}}, "needs n_folds 1"),
    ({"optimize": {"holdout_symbols": ["XRPUSDT"]}}, "cannot be combined with holdout_symbols"),
])
def test_one_wallet_needs_several_symbols_one_fold_and_no_hold_out_symbols(extra, message):
    from passivbot.config import ConfigError

    d = backtest_config_to_dict(load_backtest_config("backtest_configs/demo.json"))
    d.update(symbols=["ETHUSDT", "BTCUSDT"])
    d["optimize"]["one_wallet"] = True
    for k, v in extra.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) else v
    with pytest.raises(ConfigError, match=message) as e:
        backtest_config_from_dict(d, "bt.json", root=ROOT)
    assert any(i.key == "optimize.one_wallet" for i in e.value.issues)
