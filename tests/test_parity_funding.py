"""Backtest equals live with perpetual-futures accounting on: the real bot (real ccxt) trading
the emulator in lockstep over bundled ETHUSDT days with the symbol's funding events charged by
both (the same arrays, `run_parity(..., funding=)`), on both exchanges, in the emulator's minute
mode: every fill, the final wallet balance (funding included) and the positions identical.

The high-exposure config (leverage 7, wallet_exposure_limit 3.5 per side, which validation
accepts) is the one whose entries an exchange refuses for margin: the backtest refuses them at
the fill and the emulator by the same function (`Account.entry_fits`), so parity holds while
dozens of entries are refused. Day 4 of the sample: 3 funding events and ~90 refusals."""

import numpy as np
import pytest

from passivbot.backtest.engine import (
    S_FUNDING_EVENTS, S_FUNDING_PAID, S_FUNDING_RECEIVED, S_MARGIN_REFUSED, run_backtest,
)
from passivbot.config import live_config_from_dict, live_config_to_dict, side_params
from passivbot.data.bundled import load_bundled
from passivbot.data.perp import load_funding
from passivbot.markets import DEFAULT_FEES, market_spec
from harness.parity import backtest_outcome, busy_config, funding_arrays, run_parity, \
    summary_lines

DAY = 1440


def high_exposure_config():
    d = live_config_to_dict(busy_config())
    d["leverage"] = 7
    for side in ("long", "short"):
        d[side]["wallet_exposure_limit"] = 3.5
    return live_config_from_dict(d, "ETH-J1 busy, leverage 7, exposure 3.5 + 3.5")


def day(k: int) -> np.ndarray:
    return np.array(load_bundled("ETHUSDT")[k * DAY:(k + 1) * DAY])


def funding_of(exchange: str, candles: np.ndarray):
    fs = load_funding(exchange, "ETHUSDT", int(candles[0, 0]), int(candles[-1, 0]) + 60_000)
    assert len(fs) == 3, "the bundled sample has 8 h funding over these days"
    return fs


def backtest_summary(cfg, candles, exchange, fs) -> np.ndarray:
    spec, fees = market_spec(exchange, "ETHUSDT"), DEFAULT_FEES[exchange]
    t, r, m = funding_arrays(fs)
    return run_backtest(candles, side_params(cfg.long), side_params(cfg.short),
                        spec.market_array(), spec.brackets_array(), 10_000.0, fees["maker_fee"],
                        fees["taker_fee"], spec.mmr_add, leverage=float(cfg.leverage),
                        funding_times=t, funding_rates=r, funding_marks=m)[2]


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_funding_parity_on_a_day_with_three_funding_events(exchange):
    cfg, candles = busy_config(), day(0)
    fs = funding_of(exchange, candles)
    s = backtest_summary(cfg, candles, exchange, fs)
    assert s[S_FUNDING_PAID] + s[S_FUNDING_RECEIVED] > 0.0  # a position was open at an event
    fees = DEFAULT_FEES[exchange]
    unfunded = backtest_outcome(cfg, candles, exchange, 10_000.0, fees["maker_fee"],
                                fees["taker_fee"])
    rep = await run_parity(cfg, candles, exchange, realism="minute", funding=fs)
    assert rep.backtest.balance != unfunded.balance  # funding moved the balance
    assert rep.match_rate == 100.0, "\n".join(summary_lines(rep))
    assert rep.live.fills == rep.backtest.fills
    assert abs(rep.balance_diff) <= 1e-6 and rep.positions_equal
    assert rep.ok, "\n".join(summary_lines(rep))


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_high_exposure_parity_refuses_the_same_entries_for_margin(exchange):
    cfg, candles = high_exposure_config(), day(4)
    fs = funding_of(exchange, candles)
    s = backtest_summary(cfg, candles, exchange, fs)
    # the window exercises the margin rule (90 refusals before the one-tick passive rule moved
    # the entries; 5 on Bybit after it) and three funding events
    assert s[S_MARGIN_REFUSED] >= 1 and s[S_FUNDING_EVENTS] == 3
    rep = await run_parity(cfg, candles, exchange, realism="minute", funding=fs)
    assert rep.match_rate == 100.0, "\n".join(summary_lines(rep))
    assert rep.live.fills == rep.backtest.fills and rep.live.book_mismatches == []
    assert abs(rep.balance_diff) <= 1e-6 and rep.positions_equal
    assert rep.ok, "\n".join(summary_lines(rep))
