"""The engine: the cached order book gives exactly the fills of recomputing ideal orders every
candle; basic bookkeeping on real bundled candles."""

import numpy as np
import pytest

from passivbot.backtest.engine import (
    EQ_COLS, EQ_EQUITY, EQUITY_EVERY, S_CLOSEST_LIQ, S_LAST_INDEX, S_LIQUIDATED, run_backtest,
)
from passivbot.data.bundled import load_bundled
from tests.backtest_helpers import ETH, ETH_BRACKETS, make_params, random_walk_candles


def _run(candles, lp, sp, every=False, balance=1000.0, **kw):
    return run_backtest(candles, lp, sp, ETH, ETH_BRACKETS, balance, 0.0002, 0.0005,
                        recompute_every_candle=every, **kw)


@pytest.mark.parametrize("seed", range(12))
def test_cached_book_equals_recomputing_every_candle(seed):
    rng = np.random.default_rng(seed)
    candles = random_walk_candles(6000, seed, vol=float(rng.uniform(0.0005, 0.004)))

    def side():
        return make_params(
            enabled=float(rng.random() < 0.9),
            wallet_exposure_limit=rng.uniform(0.05, 3.0),
            ema_span_0=rng.uniform(5, 300), ema_span_1=rng.uniform(5, 900),
            initial_qty_pct=rng.uniform(0.005, 0.3), initial_eprice_ema_dist=rng.uniform(-0.01, 0.01),
            ddown_factor=rng.uniform(0.1, 3.0), rentry_pprice_dist=rng.uniform(0.0, 0.05),
            rentry_pprice_dist_wallet_exposure_weighting=rng.uniform(0, 5),
            min_markup=rng.uniform(0.0, 0.02), markup_range=rng.uniform(0.0, 0.03),
            n_close_orders=float(rng.integers(1, 12)),
        )

    lp, sp = side(), side()
    balance = float(rng.uniform(50, 5000))
    # half the seeds with funding every 4 h and leverage: a payment moves the balance, so the
    # entry grids must follow it exactly as a full recompute does
    kw = {}
    if seed % 2:
        times = candles[::240, 0].astype(np.int64)
        kw = dict(funding_times=times, funding_rates=rng.normal(0, 0.001, len(times)),
                  leverage=float(rng.uniform(1, 10)))
    fast = _run(candles, lp, sp, balance=balance, **kw)
    ref = _run(candles, lp, sp, every=True, balance=balance, **kw)
    assert len(ref[0]) > 0 or lp[0] + sp[0] == 0
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1], ref[1])
    np.testing.assert_array_equal(fast[2], ref[2])


def test_bundled_eth_both_sides_modes_agree_and_equity_is_hourly():
    candles = load_bundled("ETHUSDT")[: 20 * 1440]
    lp = sp = make_params()
    fills, equity, summary = _run(candles, lp, sp)
    ref = _run(candles, lp, sp, every=True)
    np.testing.assert_array_equal(fills, ref[0])
    assert len(fills) > 50
    assert equity.shape == (len(candles) // EQUITY_EVERY + 1, EQ_COLS)
    assert summary[S_LIQUIDATED] == 0.0 and summary[S_LAST_INDEX] == len(candles) - 1
    assert 0.0 < summary[S_CLOSEST_LIQ] <= 1.0
    assert abs(equity[-1, EQ_EQUITY] / 1000.0 - 1) < 0.5
