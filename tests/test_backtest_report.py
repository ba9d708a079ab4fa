"""Stats on hand-made series, the run folder (files, valid configs, plots), the console summary
and the backtest.py command line (one run, overrides, synthetic labelling, exit 2)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from passivbot.backtest.analysis import load_run
from passivbot.backtest.cli import main
from passivbot.backtest.engine import EQ_COLS, EQ_EQUITY, N_SUMMARY, S_CLOSEST_LIQ, S_LAST_INDEX
from passivbot.backtest.report import new_run_dir, summary_table, write_report
from passivbot.backtest.runner import backtest_live_config
from passivbot.backtest.stats import (
    STAT_KEYS, compute_stats, daily_returns, max_drawdown, sharpe_ratio, sortino_ratio,
)
from passivbot.config import load_backtest_config, load_live_config
from passivbot.records import fill_dt

ROOT = Path(__file__).resolve().parents[1]


def test_runs_in_the_same_second_get_their_own_folders_with_a_safe_label(tmp_path):
    import datetime as dt

    now = dt.datetime(2025, 5, 5, 12, 0, 1, tzinfo=dt.timezone.utc)
    got = [new_run_dir(tmp_path / "binance" / "ETHUSDT", "my cfg/v2", now) for _ in range(3)]
    assert [p.name for p in got] == ["20250505T120001_my_cfg_v2", "20250505T120001_my_cfg_v2-1",
                                     "20250505T120001_my_cfg_v2-2"]
    assert all(p.is_dir() for p in got)


def test_max_drawdown_is_the_largest_fall_from_a_peak():
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(0.25)
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0


def test_daily_returns_use_whole_days_and_leave_a_partial_last_day_out():
    eq = np.zeros((50, EQ_COLS))
    eq[:, EQ_EQUITY] = 100.0
    eq[24, EQ_EQUITY] = 110.0  # day 1 ends +10 %
    eq[48:, EQ_EQUITY] = 99.0  # day 2 ends at 99 (-10 %)
    eq[49, EQ_EQUITY] = 49.5  # the last sample, 30 minutes into day 3: -50 %
    minutes = 2 * 1440 + 30
    np.testing.assert_allclose(daily_returns(eq, minutes), [0.1, -0.1])
    # a liquidated run counts its last partial day, with its loss
    np.testing.assert_allclose(daily_returns(eq, minutes, include_partial=True), [0.1, -0.1, -0.5])
    # a last sample on an hour boundary that is not a whole day is not a day either
    np.testing.assert_allclose(daily_returns(eq[:25], 23 * 60 + 40), [])


def test_sharpe_and_sortino_are_annualised_with_the_conventional_definitions():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    mean, std = 0.005, np.sqrt(((0.005**2) + 0.025**2 + 0.025**2 + 0.005**2) / 3)
    assert sharpe_ratio(r) == pytest.approx(mean / std * np.sqrt(365), rel=1e-12)
    downside = np.sqrt(0.02**2 / 4)  # root mean square of min(r, 0): only -0.02 counts
    assert sortino_ratio(r) == pytest.approx(mean / downside * np.sqrt(365), rel=1e-12)
    assert sharpe_ratio(r[:1]) == 0.0 and sortino_ratio(np.array([0.01, 0.02])) == 0.0


def test_stats_without_fills_are_flat_and_finite():
    eq = np.zeros((3, EQ_COLS))
    eq[:, EQ_EQUITY] = 500.0
    summary = np.zeros(N_SUMMARY)
    summary[S_CLOSEST_LIQ] = 1.0
    summary[S_LAST_INDEX] = 2879
    s = compute_stats(np.zeros(0, dtype=fill_dt), eq, summary, np.zeros((2880, 6)), 500.0)
    assert tuple(s) == STAT_KEYS and all(isinstance(v, float) for v in s.values())
    assert s["gain"] == 0.0 and s["days"] == 2.0 and s["sharpe"] == 0.0 and s["n_fills"] == 0.0


@pytest.fixture(scope="module")
def short_result():
    bt = load_backtest_config(ROOT / "backtest_configs/demo.json")
    from passivbot.backtest.cli import apply_overrides, build_parser
    args = build_parser().parse_args(["x", "--start-date", "2025-05-05", "--end-date", "2025-05-15"])
    bt = apply_overrides(bt, args)
    return backtest_live_config(load_live_config(ROOT / "live_settings/ETH-J1.json"), bt)


def test_run_folder_has_configs_stats_fills_and_plots(short_result, tmp_path):
    path = write_report(short_result, root=tmp_path)
    assert path.parent == tmp_path / "binance" / "ETHUSDT"
    names = {p.name for p in path.iterdir()}
    assert {"live_config.json", "backtest_config.json", "stats.json", "meta.json", "fills.csv",
            "equity.csv", "plots"} <= names
    assert {p.name for p in (path / "plots").iterdir()} == {
        "price_fills.png", "balance_equity.png", "position_sizes.png", "wallet_exposure.png"}
    # the saved live config is a valid live config equal to the one run
    assert load_live_config(path / "live_config.json") == short_result.live_config
    stats = json.loads((path / "stats.json").read_text())
    assert stats == pytest.approx(short_result.stats)
    run = load_run(path)
    assert len(run.fills) == len(short_result.fills) > 0
    np.testing.assert_allclose(run.fills["balance"], short_result.fills["balance"])
    assert run.meta["synthetic"] is False and run.meta["n_candles"] == 10 * 1440


def test_summary_table_names_data_and_key_stats(short_result):
    text = summary_table(short_result)
    assert "binance ETHUSDT" in text and "bundled" in text and "SYNTHETIC" not in text
    for label in ("gain", "max drawdown", "closest liquidation", "fills per day"):
        assert label in text


def test_cli_runs_one_backtest_and_prints_the_folder(tmp_path, capsys):
    assert main(["backtest_configs/demo.json", "--live-config", "live_settings/ETH-J1.json",
                 "--start-date", "2025-05-05", "--end-date", "2025-05-08",
                 "--starting-balance", "5000", "--results", str(tmp_path), "--no-plots"]) == 0
    out = capsys.readouterr().out
    folder = Path(out.strip().splitlines()[-1].split("results: ")[1])
    assert folder.is_dir() and "starting balance 5,000.00" in out
    bt = json.loads((folder / "backtest_config.json").read_text())
    assert bt["start_date"] == "2025-05-05" and bt["starting_balance"] == 5000.0


def test_cli_synthetic_data_is_labelled(tmp_path, capsys):
    cfg = json.loads((ROOT / "backtest_configs/demo.json").read_text())
    cfg.update(data_source="synthetic", synthetic_seed=3, start_date="2024-01-01",
               end_date="2024-01-04")
    p = tmp_path / "syn.json"
    p.write_text(json.dumps(cfg))
    assert main([str(p), "--live-config", "live_settings/ETH-J1.json", "--results",
                 str(tmp_path / "out"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out
    folder = Path(out.strip().splitlines()[-1].split("results: ")[1])
    assert json.loads((folder / "meta.json").read_text())["synthetic"] is True


def test_cli_config_error_exits_2_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "backtest.py", "backtest_configs/demo.json",
                        "--live-config", "live_settings/ETH-J1.json", "--end-date", "2025-13-40",
                        "--results", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "end_date" in r.stderr


def test_backtest_symbol_wins_over_the_live_configs_symbol():
    """Regression: candles came from the backtest config's symbol but market specs from the
    live config's, so `--symbol BTCUSDT` with an ETHUSDT live config mixed the two markets."""
    from dataclasses import replace

    from passivbot.backtest.runner import backtest_live_config
    from passivbot.config import load_backtest_config, load_live_config
    from passivbot.data.bundled import load_bundled

    bt = replace(load_backtest_config("backtest_configs/demo.json"), symbol="BTCUSDT")
    live = load_live_config("live_settings/ETH-J1.json")
    res = backtest_live_config(live, bt, candles=load_bundled("BTCUSDT")[:1440 * 2].copy())
    assert res.live_config.symbol == "BTCUSDT" and res.candles_info["symbol"] == "BTCUSDT"
    # BTC's 0.1 price step: every order's fill price lies on it (ETH's 0.01 would not); a
    # liquidation fills at the market and funding is priced at the mark, off the step
    from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY

    orders = np.isin(res.fills["kind"], [KIND_INITIAL_ENTRY, KIND_REENTRY, KIND_CLOSE])
    prices = res.fills["price"][orders]
    assert len(prices) > 0
    assert abs(prices * 10 - (prices * 10).round()).max() < 1e-6


def test_funding_reaches_fills_csv_stats_and_the_summary(tmp_path):
    """Funding payments are rows of fills.csv (kind_name funding), summed in stats, and the
    console says where funding came from, or that it was not modelled."""
    from passivbot.backtest.cli import apply_overrides, build_parser
    from passivbot.backtest.runner import NO_FUNDING, Funding, load_backtest_candles

    bt = load_backtest_config(ROOT / "backtest_configs/demo.json")
    args = build_parser().parse_args(["x", "--start-date", "2025-05-05", "--end-date", "2025-05-08"])
    bt = apply_overrides(bt, args)
    live = load_live_config(ROOT / "live_settings/ETH-J1.json")
    candles = load_backtest_candles(bt)
    times = candles[::480, 0].astype(np.int64)  # every 8 h
    rates = np.full(len(times), 0.0005)
    res = backtest_live_config(live, bt, candles,
                               funding=Funding(times, rates, np.full(len(times), np.nan), "bundled"))
    rows = res.fills[res.fills["kind"] == 4]
    assert len(rows) > 0
    paid = -rows["pnl"][rows["pnl"] < 0].sum()
    received = rows["pnl"][rows["pnl"] > 0].sum()
    assert res.stats["funding_paid"] == pytest.approx(paid, rel=1e-12)
    assert res.stats["funding_received"] == pytest.approx(received, rel=1e-12)
    assert res.stats["funding_modelled"] == 1.0 and res.candles_info["funding_source"] == "bundled"
    path = write_report(res, root=tmp_path, plots=False)
    csv = (path / "fills.csv").read_text().splitlines()
    assert sum(",funding," in line for line in csv) == len(rows)
    text = summary_table(res)
    assert "funding paid" in text and "funding from bundled" in text
    plain = backtest_live_config(live, bt, candles, funding=NO_FUNDING)
    assert "funding NOT modelled" in summary_table(plain)
    assert plain.stats["funding_modelled"] == 0.0
    assert plain.stats["final_balance"] != res.stats["final_balance"]
