"""Bounded loss on one account, live = backtest: the MultiBot (passivbot/live/multi.py) with the
equity stop on the ACCOUNT's equity and auto-unstuck per symbol and side with the account's
peak balance (passivbot/live/multi_risk.py) trades the multi-symbol emulator exactly as the
multi-symbol backtest replays the same candles, and a MultiBot restarted in the middle of the
account's cool-down stays stopped on every symbol."""

import asyncio
import json

import numpy as np
import pytest

from harness.live import fall_then_rise
from harness.parity import lockstep_options
from harness.parity_multi import (
    busy_multi_dict, load_aligned, run_parity_multi, settle, subscribed, summary_lines,
)
from passivbot.config.multi import multi_config_from_dict
from passivbot.live.risk_state import clear_equity_stop, load_risk_state
from passivbot.markets import market_spec
from passivbot.records import LONG, SHORT

SYMS = ["ETHUSDT", "BTCUSDT"]
UNSTUCK = dict(unstuck_threshold=0.15, unstuck_close_pct=0.2, unstuck_ema_dist=0.0,
               unstuck_loss_allowance_pct=0.01)


def risk_config(symbols, drawdown: float, cooldown: int, **kw):
    d = busy_multi_dict(symbols, **kw)
    for side in ("long", "short"):
        d[side].update(UNSTUCK)
    d.update(equity_stop_drawdown=drawdown, equity_stop_cooldown_minutes=cooldown)
    return multi_config_from_dict(d, "multi risk test")


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_account_equity_stop_and_unstuck_fill_exactly_as_the_multi_backtest(exchange):
    """ETHUSDT + BTCUSDT, 5 hours from day 2.25 of the bundled sample, account stop at 0.6 %
    drawdown, unstuck above 0.15 x the limit: the multi backtest's account stop fires at
    minute 70 and closes both symbols' shorts at the next open, then 2 unstuck closes (ETH,
    BTC) follow; the live MultiBot makes the same fills (stop and unstuck closes compared as
    reduce-only closes), the same balance and positions."""
    cfg = risk_config(SYMS, 0.006, 60)
    candles = load_aligned(SYMS, 2.25, 300 / 1440)
    rep = await run_parity_multi(cfg, candles, exchange, bounded_loss=True)
    assert rep.backtest.n_stop == 2 and rep.backtest.n_unstuck == 2, summary_lines(rep)
    assert rep.ok, "\n".join(summary_lines(rep))
    assert rep.match_rate == 100.0 and abs(rep.balance_diff) <= 1e-6
    assert rep.live.fills == rep.backtest.fills
