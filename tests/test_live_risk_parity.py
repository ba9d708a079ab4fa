"""Backtest = live with the bounded-loss rules on: the real bot trading the emulator (minute
mode) on a bundled ETHUSDT day where auto-unstuck closes happen and the equity stop fires
makes exactly the backtester's fills (unstuck and stop closes compared as reduce-only closes:
the exchange sees no reason), final balance and positions, on both exchanges."""

import dataclasses

import numpy as np
import pytest

from passivbot.config.risk import stop_params, unstuck_params
from passivbot.data.bundled import load_bundled
from passivbot.markets import DEFAULT_FEES, market_spec
from harness.parity import busy_config, run_parity, summary_lines
from passivbot.records import KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE

# Day 5 (index 4) of the bundled ETHUSDT sample: found by scanning the days for one with
# unstuck closes and a stop (11 unstuck closes, 1 stop close in the backtest, binance).
START, DAY = 4 * 1440, 1440
UNSTUCK = dict(unstuck_threshold=0.3, unstuck_close_pct=0.2, unstuck_ema_dist=0.0,
               unstuck_loss_allowance_pct=0.01)
BASE = busy_config()
CFG = dataclasses.replace(
    BASE, long=dataclasses.replace(BASE.long, **UNSTUCK),
    short=dataclasses.replace(BASE.short, **UNSTUCK), equity_stop_drawdown=0.02,
    equity_stop_cooldown_minutes=120)


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_live_bot_with_unstuck_and_equity_stop_fills_exactly_as_the_backtest(exchange):
    from passivbot.backtest.engine import run_backtest
    from passivbot.config import side_params

    candles = np.ascontiguousarray(load_bundled("ETHUSDT")[START:START + DAY])
    spec, fees = market_spec(exchange, "ETHUSDT"), DEFAULT_FEES[exchange]
    fills, _, _ = run_backtest(candles, side_params(CFG.long), side_params(CFG.short),
                               spec.market_array(), spec.brackets_array(), 10_000.0,
                               fees["maker_fee"], fees["taker_fee"], spec.mmr_add,
                               long_risk=unstuck_params(CFG.long),
                               short_risk=unstuck_params(CFG.short), stop_params=stop_params(CFG))
    # the window exercises both rules in the backtest
    assert (fills["kind"] == KIND_UNSTUCK_CLOSE).sum() >= 1
    assert (fills["kind"] == KIND_STOP_CLOSE).sum() >= 1
    rep = await run_parity(CFG, candles, exchange, realism="minute", bounded_loss=True)
    assert rep.match_rate == 100.0, "\n".join(summary_lines(rep))
    assert rep.live.fills == rep.backtest.fills
    assert abs(rep.balance_diff) <= 1e-6 and rep.positions_equal
    assert rep.ok
