"""Golden tests: a hand-worked candle set whose fills and stats are computed in the comments, and
a regression file for 14 days of the bundled ETHUSDT.

Regenerate the regression file (only after a deliberate behaviour change, and say why in the
commit):  REGENERATE_GOLDEN=1 pytest tests/test_backtest_golden.py
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from passivbot.backtest.engine import EQ_EQUITY, run_backtest
from passivbot.backtest.stats import compute_stats
from passivbot.data.bundled import load_bundled
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, M_PASSIVE_TICKS, M_REPRICE_TOL,
)
from tests.backtest_helpers import ETH, ETH_BRACKETS, make_params

GOLDEN = Path(__file__).with_name("golden") / "backtest_eth_14d.json"

# Market: price step 0.1, qty step 0.01, min qty 0.01, min cost 1; one tier, mmr 1 %.
MARKET = np.array([0.1, 0.01, 0.01, 1.0])
BRACKETS = np.array([[np.inf, 0.01, 0.0]])
# Long only. EMA spans 1 -> alpha 1 -> both EMAs equal the last close. Entry 1 % under the band,
# first entry cost = 1000 x 1.0 x 0.1 = 100; re-entry 5 % under pprice with the same qty; one
# take-profit 2 % over pprice.
LONG_P = make_params(
    wallet_exposure_limit=1.0, ema_span_0=1.0, ema_span_1=1.0, initial_qty_pct=0.1,
    initial_eprice_ema_dist=0.01, ddown_factor=1.0, rentry_pprice_dist=0.05,
    rentry_pprice_dist_wallet_exposure_weighting=0.0, min_markup=0.02, markup_range=0.0,
    n_close_orders=1.0,
)
SHORT_P = make_params(enabled=0.0)
MAKER, TAKER = 0.001, 0.002

HAND_CANDLES = np.array([
    # ts,   open,  high,  low,   close
    # 0: seed. EMA = last = 100 -> entry 100 x 0.99 = 99.0, qty round(100 / 99, 0.01) = 1.01
    [0, 100.0, 100.0, 100.0, 100.0],
    # 1: low 99.5 is not under 99.0: nothing
    [1, 100.0, 100.5, 99.5, 100.0],
    # 2: low 98.9 < 99.0: initial entry 1.01 @ 99.0, fee 1.01*99*0.001 = 0.09999,
    #    balance 999.90001. Then last 99: re-entry 99*0.95 = 94.05 -> 94.0 (down), qty 1.01;
    #    close 99*1.02 = 100.98 -> 101.0 (up) for 1.01
    [2, 100.0, 100.0, 98.9, 99.0],
    # 3: low 93.9 < 94.0: re-entry 1.01 @ 94.0, fee 0.09494, balance 999.80507,
    #    position 2.02 @ (99.99 + 94.94) / 2.02 = 96.5. The new close 96.5*1.02 = 98.43 -> 98.5
    #    is created by this fill: the high 99.5 must NOT fill it in this candle.
    [3, 99.0, 99.5, 93.9, 94.5],
    # 4: high 98.5 touches the close but does not trade through it: nothing
    [4, 94.5, 98.5, 94.2, 98.0],
    # 5: high 99.0 > 98.5: close 2.02 @ 98.5, pnl (98.5-96.5)*2.02 = 4.04, fee 0.19897,
    #    balance 999.80507 + 4.04 - 0.19897 = 1003.6461. Flat: entry 98.8*0.99 = 97.812 -> 97.8
    [5, 98.0, 99.0, 97.5, 98.8],
    # 6: low 98.0 not under 97.8; then entry 99*0.99 = 98.01 -> 98.0
    [6, 98.8, 99.2, 98.0, 99.0],
    # 7: low 98.1 not under 98.0: nothing
    [7, 99.0, 99.1, 98.1, 98.5],
])
HAND_CANDLES = np.column_stack([HAND_CANDLES[:, 0] * 60_000, HAND_CANDLES[:, 1:], np.ones(8)])


@pytest.mark.parametrize("every", [False, True])
def test_hand_worked_fills(every):
    fills, equity, summary = run_backtest(HAND_CANDLES, LONG_P, SHORT_P, MARKET, BRACKETS, 1000.0,
                                          MAKER, TAKER, recompute_every_candle=every)
    expected = [  # minute, kind, qty, price, fee, pnl, psize, pprice, balance
        (2, KIND_INITIAL_ENTRY, 1.01, 99.0, 0.09999, 0.0, 1.01, 99.0, 999.90001),
        (3, KIND_REENTRY, 1.01, 94.0, 0.09494, 0.0, 2.02, 96.5, 999.80507),
        (5, KIND_CLOSE, 2.02, 98.5, 0.19897, 4.04, 0.0, 0.0, 1003.64610),
    ]
    assert len(fills) == len(expected)
    for f, (minute, kind, qty, price, fee, pnl, psize, pprice, balance) in zip(fills, expected):
        assert (f["minute"], f["side"], f["kind"]) == (minute, LONG, kind)
        assert f["timestamp"] == minute * 60_000
        np.testing.assert_allclose(
            [f["qty"], f["price"], f["fee"], f["pnl"], f["psize"], f["pprice"], f["balance"]],
            [qty, price, fee, pnl, psize, pprice, balance], rtol=1e-12, atol=1e-9)
    # equity: the close of candle 0 and of the last candle (flat: equity == balance)
    np.testing.assert_allclose(equity[:, EQ_EQUITY], [1000.0, 1003.6461], rtol=1e-12)


def test_hand_worked_stats():
    fills, equity, summary = run_backtest(HAND_CANDLES, LONG_P, SHORT_P, MARKET, BRACKETS, 1000.0,
                                          MAKER, TAKER)
    s = compute_stats(fills, equity, summary, HAND_CANDLES, 1000.0)
    assert s["final_balance"] == pytest.approx(1003.6461, abs=1e-9)
    assert s["gain"] == pytest.approx(0.0036461, abs=1e-12)
    assert s["days"] == pytest.approx(8 / 1440)
    assert (s["n_fills"], s["n_entries"], s["n_closes"], s["n_liquidations"]) == (3, 2, 1, 0)
    assert s["fees_paid"] == pytest.approx(0.09999 + 0.09494 + 0.19897, abs=1e-12)
    assert s["volume"] == pytest.approx(99.99 + 94.94 + 198.97, abs=1e-9)
    # largest exposure: after the re-entry, 194.93 / 999.80507
    assert s["max_wallet_exposure_long"] == pytest.approx(194.93 / 999.80507, rel=1e-12)
    assert s["max_wallet_exposure_short"] == 0.0
    # open from minute 2 to 5 with fills at 2, 3, 5: longest gap 2 minutes
    assert s["max_hours_stuck_long"] == pytest.approx(2 / 60)
    # long 2.02 @ 96.5 on ~1000: the liquidation price is negative -> never liquidated
    assert s["closest_liquidation_distance"] == 1.0 and s["liquidated"] == 0.0
    # drawdown from each candle's worst equity (long at the low) against the peak close equity
    # (1000, never exceeded before minute 3): after candle 3 the long is 2.02 @ 96.5 with
    # balance 999.80507 and the low is 93.9: 999.80507 + 2.02 * (93.9 - 96.5) = 994.55307,
    # (1000 - 994.55307) / 1000 = 0.00544693 (candle 2: 999.90001 - 1.01 * 0.1 = 999.79901)
    assert s["max_drawdown"] == pytest.approx(0.00544693, abs=1e-12)


def _regression_run():
    candles = load_bundled("ETHUSDT")[: 14 * 1440]
    p = make_params()
    # Pinned with orders capped at the last price itself (passive ticks 0, the calculator
    # before the one-tick book rule) and the initial entry unquantized (re-pricing tolerance 0);
    # the defaults are covered by the cache tests and tests/test_grid.py.
    market = ETH.copy()
    market[M_PASSIVE_TICKS] = 0.0
    market[M_REPRICE_TOL] = 0.0
    fills, equity, summary = run_backtest(candles, p, p, market, ETH_BRACKETS, 1000.0, 0.0002,
                                          0.0005)
    stats = compute_stats(fills, equity, summary, candles, 1000.0)
    first = [[float(x) for x in f.tolist()] for f in fills[:5]]
    return {"stats": stats, "first_fills": first, "n_fills": len(fills)}


def test_regression_bundled_eth_14_days():
    got = _regression_run()
    if os.environ.get("REGENERATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["n_fills"] == want["n_fills"]
    np.testing.assert_allclose(got["first_fills"], want["first_fills"], rtol=1e-9)
    for k, v in want["stats"].items():
        assert got["stats"][k] == pytest.approx(v, rel=1e-7, abs=1e-9), k
