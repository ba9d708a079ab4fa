"""Backtest equals live: the real bot (real ccxt) trading the emulator in lockstep over a day of
bundled ETHUSDT produces exactly the backtester's fills, final balance and positions, on both
exchanges (Bybit's qty step differs: the backtest uses market_spec(exchange, symbol)), in the
emulator's minute mode and (short version) in its realistic mode: an intra-minute price path,
a one-tick spread, PostOnly checked against the book, partial fills."""

import numpy as np
import pytest

from passivbot.data.bundled import load_bundled
from harness.parity import (
    Outcome, backtest_outcome, busy_config, compare, fill_key, run_parity, start_bot,
    summary_lines,
)
from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, SHORT

DAY = 1440
CFG = busy_config()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_live_bot_on_emulator_fills_exactly_as_the_backtest(exchange):
    candles = np.array(load_bundled("ETHUSDT")[:DAY])
    rep = await run_parity(CFG, candles, exchange, realism="minute")
    kinds = {(k[1], k[2]) for k in rep.backtest.fills}
    for side in (LONG, SHORT):  # the window exercises every kind on both sides
        assert {(side, KIND_INITIAL_ENTRY), (side, KIND_REENTRY), (side, KIND_CLOSE)} <= kinds
    assert rep.match_rate == 100.0, "\n".join(summary_lines(rep))
    assert rep.mismatches == [] and rep.live.book_mismatches == []
    assert rep.live.fills == rep.backtest.fills
    assert abs(rep.balance_diff) <= 1e-6 and rep.positions_equal
    assert rep.ok


REALISTIC_MINUTES = 480


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_live_bot_fills_as_the_backtest_on_the_realistic_emulator(exchange):
    candles = np.array(load_bundled("ETHUSDT")[:REALISTIC_MINUTES])
    rep = await run_parity(CFG, candles, exchange, realism="full")
    assert len(rep.backtest.fills) >= 10
    assert rep.match_rate == 100.0, "\n".join(summary_lines(rep))
    assert rep.ok, "\n".join(summary_lines(rep))


def test_partial_executions_merge_into_the_fill_rules_fill():
    from harness.parity import merged_fills

    ex = [dict(minute=5, side=LONG, kind=KIND_REENTRY, price=10.0, qty=q, order_id=7)
          for q in (0.1, 0.2)]
    ex.append(dict(minute=5, side=LONG, kind=KIND_CLOSE, price=11.0, qty=0.3, order_id=8))
    ex.append(dict(minute=6, side=LONG, kind=KIND_CLOSE, price=11.0, qty=0.1, order_id=8))
    assert merged_fills(ex) == [fill_key(5, LONG, KIND_REENTRY, 10.0, 0.3),
                                fill_key(5, LONG, KIND_CLOSE, 11.0, 0.3),
                                fill_key(6, LONG, KIND_CLOSE, 11.0, 0.1)]


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_warm_up_on_a_one_candle_history_seeds_emas_like_the_backtester(exchange):
    """The backtester seeds its EMAs and last price on candles[0]; the bot started on an
    emulator whose only closed candle is candles[0] must hold the same state."""
    from passivbot.emulator import Emulator

    candles = np.array(load_bundled("ETHUSDT")[:5])
    emu = Emulator(exchange, "ETHUSDT", candles, start_index=1)
    await emu.start()
    try:
        bot = await start_bot(exchange, CFG, emu)
        try:
            assert (bot.state.emas == candles[0, 4]).all()
            assert bot.state.last_price == candles[0, 4]
            assert bot.state.last_closed_ts == int(candles[0, 0])
        finally:
            await bot.stop()
    finally:
        await emu.stop()


def test_compare_lists_each_mismatch_with_its_minute():
    candles = np.array(load_bundled("ETHUSDT")[:DAY])
    bt = backtest_outcome(CFG, candles, "binance", 10_000.0, 0.0002, 0.0005)
    assert len(bt.fills) > 10
    moved = list(bt.fills)
    m, side, kind, price, qty = moved[3]
    moved[3] = fill_key(m + 1, side, kind, price, qty)  # the same fill one minute late
    live = Outcome(moved[:-1], bt.balance + 0.5, bt.positions)  # and the last one missing
    rep = compare("binance", DAY, bt, live)
    assert rep.matched == len(bt.fills) - 2
    assert rep.match_rate < 100.0 and not rep.ok
    assert any(s.startswith(f"backtest only minute {m}:") for s in rep.mismatches)
    assert any(s.startswith(f"live only minute {m + 1}:") for s in rep.mismatches)
    assert any(f"minute {bt.fills[-1][0]}:" in s for s in rep.mismatches)


def test_a_late_final_kline_revises_the_emas_as_if_it_had_come_first():
    """Regression (realistic parity, minute 311): another stream's timestamp closed a minute
    before its final kline arrived, the bot applied the last in-progress close, ignored the
    final one and its EMAs stayed one tick off the backtest's for hours. The final kline of an
    applied candle now rewinds the EMAs and re-applies: bit for bit the in-order result."""
    from passivbot.config import side_params
    from passivbot.live.state import BotState

    params = np.stack([side_params(CFG.long), side_params(CFG.short)])
    hist = np.array(load_bundled("ETHUSDT")[:10])
    t0 = int(hist[-1, 0])

    def fresh():
        st = BotState(params=params.copy())
        st.warm_up(hist)
        return st

    want = fresh()
    for k, close in enumerate((1800.0, 1801.5, 1799.25)):
        want.add_candle(t0 + (k + 1) * 60_000, close)
    want.note_time(t0 + 5 * 60_000)
    assert want.apply_closed() == (3, None)

    got = fresh()
    got.add_candle(t0 + 60_000, 1800.0)
    got.add_candle(t0 + 120_000, 1801.4)  # the last in-progress update of the second minute
    got.add_candle(t0 + 180_000, 1799.25)
    got.note_time(t0 + 5 * 60_000)
    assert got.apply_closed() == (3, None)
    assert not (got.emas == want.emas).all()
    assert got.add_candle(t0 + 120_000, 1801.5)  # its final kline, late: revised
    assert (got.emas == want.emas).all() and got.close_price == want.close_price
    assert not got.add_candle(t0 + 120_000, 1801.5)  # the same values again: nothing to do
