"""Bounded loss in the backtest engine: hand-worked unstuck closes (cut to the allowance) and an
equity stop (market close at the next open, taker fee, no entry during the cool-down), the keys
off leaving every fill unchanged, and replay properties over random walks (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passivbot.backtest.engine import (
    S_PEAK_BALANCE, S_STOPS, S_UNSTUCK_LOSS_LONG, S_UNSTUCK_LOSS_SHORT, run_backtest,
)
from passivbot.backtest.stats import compute_stats
from passivbot.records import (
    KIND_INITIAL_ENTRY, KIND_REENTRY, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG,
    SHORT,
)
from tests.backtest_helpers import ETH, ETH_BRACKETS, make_params, random_walk_candles

MARKET = np.array([0.1, 0.01, 0.01, 1.0])
BRACKETS = np.array([[np.inf, 0.01, 0.0]])
MAKER, TAKER = 0.001, 0.002
OFF = make_params(enabled=0.0)


def candles(rows) -> np.ndarray:
    a = np.array(rows, dtype=np.float64)
    return np.column_stack([a[:, 0] * 60_000, a[:, 1:], np.ones(len(a))])


def row(f):
    return (int(f["minute"]), int(f["kind"]), float(f["qty"]), float(f["price"]),
            float(f["fee"]), float(f["pnl"]), float(f["balance"]))


# Long only, EMA spans 1 (band = last close), first entry 1 % under it for half the budget,
# re-entries 5 % under the position price, one take-profit 2 % over it.
UNSTUCK_LONG = make_params(
    wallet_exposure_limit=1.0, ema_span_0=1.0, ema_span_1=1.0, initial_qty_pct=0.5,
    initial_eprice_ema_dist=0.01, ddown_factor=1.0, rentry_pprice_dist=0.05,
    rentry_pprice_dist_wallet_exposure_weighting=0.0, min_markup=0.02, markup_range=0.0,
    n_close_orders=1.0,
)
# threshold 0.4 x limit 1.0, 20 % per close, 1 % over the upper band, allowance 0.15 % of peak
UNSTUCK_RISK = np.array([0.4, 0.2, 0.01, 0.0015])
UNSTUCK_CANDLES = candles([
    # 0: seed 100: entry 99.0 for round(500 / 99, 0.01) = 5.05
    [0, 100.0, 100.0, 100.0, 100.0],
    # 1: entry fills 5.05 @ 99, fee 0.49995, balance 999.50005; exposure 0.5002 > 0.4: unstuck
    #    close at 97 x 1.01 = 97.97 -> 98.0 for 20 % of 5.05 = 1.01; loss/unit 1 + 0.098 =
    #    1.098, x 1.01 = 1.10898 <= 0.0015 x 1000 = 1.5: uncut
    [1, 100.0, 100.0, 98.9, 97.0],
    # 2: high 98.5 > 98: unstuck 1.01 @ 98, pnl -1.01, fee 0.09898, balance 998.39107. Exposure
    #    4.04 x 99 / 998.39107 = 0.4006 > 0.4: next at 97.5 x 1.01 = 98.475 -> 98.5, wanted
    #    0.808 -> 0.80, loss/unit 0.5 + 0.0985 = 0.5985, room 1.5 - 1.10898 = 0.39102 ->
    #    0.6533 -> 0.65 (cut)
    [2, 97.0, 98.5, 96.5, 97.5],
    # 3: high 99 > 98.5: unstuck 0.65 @ 98.5, pnl -0.325, fee 0.064025, balance 998.002045;
    #    exposure 3.39 x 99 / 998.0 = 0.336: no more unstuck
    [3, 97.5, 99.0, 97.0, 97.0],
    [4, 97.0, 97.5, 96.8, 97.2],
])


@pytest.mark.parametrize("every", [False, True])
def test_hand_worked_unstuck_closes_cut_to_the_allowance(every):
    fills, _, summary = run_backtest(UNSTUCK_CANDLES, UNSTUCK_LONG, OFF, MARKET, BRACKETS,
                                     1000.0, MAKER, TAKER, recompute_every_candle=every,
                                     long_risk=UNSTUCK_RISK)
    want = [
        (1, KIND_INITIAL_ENTRY, 5.05, 99.0, 0.49995, 0.0, 999.50005),
        (2, KIND_UNSTUCK_CLOSE, 1.01, 98.0, 0.09898, -1.01, 998.39107),
        (3, KIND_UNSTUCK_CLOSE, 0.65, 98.5, 0.064025, -0.325, 998.002045),
    ]
    assert len(fills) == len(want)
    for f, w in zip(fills, want):
        assert row(f)[:2] == w[:2]
        np.testing.assert_allclose(row(f)[2:], w[2:], rtol=1e-12, atol=1e-9)
    assert summary[S_UNSTUCK_LOSS_LONG] == pytest.approx(1.10898 + 0.389025, abs=1e-9)
    assert summary[S_UNSTUCK_LOSS_LONG] <= 0.0015 * summary[S_PEAK_BALANCE]
    assert summary[S_PEAK_BALANCE] == 1000.0 and summary[S_UNSTUCK_LOSS_SHORT] == 0.0
    stats = compute_stats(fills, *run_backtest(UNSTUCK_CANDLES, UNSTUCK_LONG, OFF, MARKET,
                                               BRACKETS, 1000.0, MAKER, TAKER,
                                               long_risk=UNSTUCK_RISK)[1:], UNSTUCK_CANDLES,
                          1000.0)
    assert stats["n_unstuck_closes"] == 2 and stats["unstuck_loss"] == pytest.approx(1.498005)


def test_without_unstuck_the_position_stays():
    fills, _, _ = run_backtest(UNSTUCK_CANDLES, UNSTUCK_LONG, OFF, MARKET, BRACKETS, 1000.0,
                               MAKER, TAKER)
    assert [int(f["kind"]) for f in fills] == [KIND_INITIAL_ENTRY]


# The golden hand-worked strategy: entry 1 % under the band for 100 USDT.
STOP_LONG = make_params(
    wallet_exposure_limit=1.0, ema_span_0=1.0, ema_span_1=1.0, initial_qty_pct=0.1,
    initial_eprice_ema_dist=0.01, ddown_factor=1.0, rentry_pprice_dist=0.05,
    rentry_pprice_dist_wallet_exposure_weighting=0.0, min_markup=0.02, markup_range=0.0,
    n_close_orders=1.0,
)
STOP_CANDLES = candles([
    [0, 100.0, 100.0, 100.0, 100.0],  # entry 99.0 x 1.01
    [1, 100.0, 100.0, 98.9, 99.0],  # entry fills: balance 999.90001
    # close 95: equity 999.90001 - 4 x 1.01 = 995.86001 < 1000 x (1 - 0.003): the stop fires
    # at this close (time 3 min), stopped until 3 + 3 = 6 min (candle 6's open)
    [2, 99.0, 99.0, 94.5, 95.0],
    # open 95.5: stop close 1.01 @ 95.5, pnl -3.535, fee 1.01 x 95.5 x 0.002 = 0.19291,
    # balance 996.1721; no entry rests although the lows trade far under the band
    [3, 95.5, 96.0, 90.0, 95.0],
    [4, 95.0, 95.0, 90.0, 94.0],
    [5, 94.0, 94.5, 90.0, 94.0],  # at its close entries are allowed again: 94 x 0.99 = 93.06
    [6, 94.0, 94.0, 92.0, 93.0],  # -> 93.0 x round(99.61721 / 93.0) = 1.07 fills
])


def test_hand_worked_equity_stop_closes_at_the_next_open_and_cools_down():
    stop = np.array([0.003, 3.0])
    fills, _, summary = run_backtest(STOP_CANDLES, STOP_LONG, OFF, MARKET, BRACKETS, 1000.0,
                                     MAKER, TAKER, stop_params=stop)
    got = [row(f) for f in fills]
    assert [g[:2] for g in got] == [(1, KIND_INITIAL_ENTRY), (3, KIND_STOP_CLOSE),
                                    (6, KIND_INITIAL_ENTRY)]
    np.testing.assert_allclose(got[1][2:], (1.01, 95.5, 0.19291, -3.535, 996.1721), atol=1e-9)
    assert got[2][2:4] == (1.07, 93.0)
    assert summary[S_STOPS] == 1
    # identical in the reference mode that recomputes every candle
    again, _, _ = run_backtest(STOP_CANDLES, STOP_LONG, OFF, MARKET, BRACKETS, 1000.0, MAKER,
                               TAKER, recompute_every_candle=True, stop_params=stop)
    assert [row(f) for f in again] == got


def test_equity_stop_with_zero_cooldown_never_trades_again():
    fills, _, summary = run_backtest(STOP_CANDLES, STOP_LONG, OFF, MARKET, BRACKETS, 1000.0,
                                     MAKER, TAKER, stop_params=np.array([0.003, 0.0]))
    assert [int(f["kind"]) for f in fills] == [KIND_INITIAL_ENTRY, KIND_STOP_CLOSE]
    assert summary[S_STOPS] == 1


def test_keys_at_zero_change_no_fill():
    c = random_walk_candles(3000, seed=7, vol=0.004)
    p = make_params(wallet_exposure_limit=1.0)
    base = run_backtest(c, p, p, ETH, ETH_BRACKETS, 1000.0, 0.0002, 0.0005, leverage=3.0)
    zero = run_backtest(c, p, p, ETH, ETH_BRACKETS, 1000.0, 0.0002, 0.0005, leverage=3.0,
                        long_risk=np.zeros(4), short_risk=np.zeros(4), stop_params=np.zeros(2))
    for name in base[0].dtype.names:
        assert np.array_equal(base[0][name], zero[0][name]), name
    assert np.array_equal(base[1], zero[1]) and np.array_equal(base[2], zero[2])


# ---------------------------------------------------------------------------------------------
# properties over random walks


@settings(max_examples=25)
@given(seed=st.integers(0, 2**31), vol=st.floats(0.001, 0.006),
       thr=st.floats(0.1, 1.0), pct=st.floats(0.05, 1.0), dist=st.floats(-0.005, 0.02),
       allowance=st.floats(0.001, 0.05), dd=st.floats(0.0, 0.3), cool=st.integers(0, 600),
       every=st.booleans())
def test_replay_keeps_unstuck_losses_within_allowance_and_no_entry_while_stopped(
        seed, vol, thr, pct, dist, allowance, dd, cool, every):
    c = random_walk_candles(1500, seed=seed, vol=vol)
    p = make_params(wallet_exposure_limit=1.0, ema_span_0=30.0, ema_span_1=90.0)
    risk = np.array([thr, pct, dist, allowance])
    stop = np.array([dd, float(cool)])
    fills, _, summary = run_backtest(c, p, p, ETH, ETH_BRACKETS, 1000.0, 0.0002, 0.0005,
                                     recompute_every_candle=every, leverage=3.0,
                                     long_risk=risk, short_risk=risk, stop_params=stop)
    peak = summary[S_PEAK_BALANCE]
    for side, key in ((LONG, S_UNSTUCK_LOSS_LONG), (SHORT, S_UNSTUCK_LOSS_SHORT)):
        u = fills[(fills["kind"] == KIND_UNSTUCK_CLOSE) & (fills["side"] == side)]
        loss = float(np.maximum(0.0, u["fee"] - u["pnl"]).sum())
        assert loss == pytest.approx(summary[key], abs=1e-9)
        assert summary[key] <= allowance * peak * (1 + 1e-12)
    stops = fills[fills["kind"] == KIND_STOP_CLOSE]
    if dd == 0.0:
        assert len(stops) == 0 and summary[S_STOPS] == 0
    entries = fills[(fills["kind"] == KIND_INITIAL_ENTRY) | (fills["kind"] == KIND_REENTRY)]
    for m in np.unique(stops["minute"]):
        # fired at the close of candle m - 1: no entry before candle m - 1 + 1 + cool
        later = entries[entries["minute"] >= m]["minute"]
        if cool == 0:
            assert len(later) == 0
        elif len(later):
            assert later.min() >= m + cool
    # the stop's closes are market closes of the whole positions at the candle's open, one
    # price step against the taker (ETH's book is one step wide): a long sells at open - step
    for f in stops:
        open_ = c[int(f["minute"]), 1]
        want = round(open_ - f["side"] * ETH[0], 2)
        assert f["psize"] == 0.0 and f["price"] == pytest.approx(want, abs=1e-9)
        assert f["fee"] == pytest.approx(f["qty"] * f["price"] * 0.0005, rel=1e-12)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31), vol=st.floats(0.002, 0.006), dd=st.floats(0.02, 0.2),
       cool=st.integers(0, 300))
def test_cached_grids_equal_recomputed_with_unstuck_and_stop(seed, vol, dd, cool):
    """The engine's order cache stays exact with the bounded-loss rules on: the same fills as
    recomputing every order every candle."""
    c = random_walk_candles(1500, seed=seed, vol=vol)
    p = make_params(wallet_exposure_limit=1.0, ema_span_0=30.0, ema_span_1=90.0)
    risk = np.array([0.5, 0.2, 0.002, 0.02])
    kw = dict(leverage=3.0, long_risk=risk, short_risk=risk, stop_params=np.array([dd, cool]))
    a = run_backtest(c, p, p, ETH, ETH_BRACKETS, 1000.0, 0.0002, 0.0005, **kw)
    b = run_backtest(c, p, p, ETH, ETH_BRACKETS, 1000.0, 0.0002, 0.0005,
                     recompute_every_candle=True, **kw)
    for name in a[0].dtype.names:
        assert np.array_equal(a[0][name], b[0][name]), name
    assert np.array_equal(a[2], b[2])


def test_report_shows_unstuck_and_stop_fills_and_summary(tmp_path):
    """backtest.py's path on the bundled ETHUSDT sample with both rules on (the docs' example
    values): fills.csv names the new kinds, stats.json counts them, the console says so."""
    import csv
    import json

    from passivbot.backtest.report import summary_table, write_report
    from passivbot.backtest.runner import backtest_live_config
    from passivbot.config import (
        live_config_from_dict, live_config_to_dict, load_backtest_config, load_live_config,
    )

    d = live_config_to_dict(load_live_config("default"))
    for s in ("long", "short"):
        d[s].update(unstuck_threshold=0.8, unstuck_close_pct=0.1, unstuck_ema_dist=0.005,
                    unstuck_loss_allowance_pct=0.02)
    d.update(equity_stop_drawdown=0.1, equity_stop_cooldown_minutes=1440)
    res = backtest_live_config(live_config_from_dict(d, "risk.json"),
                               load_backtest_config("demo"))
    path = write_report(res, tmp_path, plots=False)
    with open(path / "fills.csv") as f:
        names = [r["kind_name"] for r in csv.DictReader(f)]
    stats = json.loads((path / "stats.json").read_text())
    assert names.count("unstuck_close") == stats["n_unstuck_closes"] > 0
    assert names.count("stop_close") == stats["n_stop_closes"] > 0
    assert stats["n_equity_stops"] >= 1
    assert stats["unstuck_loss"] <= 0.02 * 2 * res.summary[S_PEAK_BALANCE]
    assert "bounded loss:" in summary_table(res)
