"""End to end, in lockstep against the emulator (minute mode, both exchanges): the real bot
fires the equity stop on a falling market, closes both positions at market at the next
candle's open one price step through the book (the backtest's price) with the taker fee, places no entry during the
cool-down, stays stopped when restarted in the middle of it, and trades again after it."""

import asyncio
import dataclasses

import pytest

from passivbot.config import load_live_config
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.errors import Redactor
from passivbot.exchanges.registry import make_adapter
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.live.console import setup_logging
from passivbot.live.risk_state import load_risk_state
from harness.live import fall_then_rise, settle, wait_subscribed
from passivbot.records import LONG, SHORT

COOLDOWN = 30
CFG = dataclasses.replace(load_live_config("ETH-J1"), equity_stop_drawdown=0.01,
                          equity_stop_cooldown_minutes=COOLDOWN)


async def new_bot(exchange, emu, path):
    ex = create_exchange(exchange, api_key="test-key", secret="test-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    log, _ = setup_logging(f"test-risk-{exchange}", Redactor(), "CRITICAL", None)
    opts = BotOptions(use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01,
                      reconcile_every_s=1e9, status_every_s=1e9, orders_per_s=1000,
                      risk_state_path=str(path))
    bot = LiveBot(make_adapter(exchange, ex, "ETHUSDT"), CFG, log, options=opts)
    await asyncio.wait_for(bot.start(), 20)
    await wait_subscribed(emu)
    await settle(bot, emu)
    return bot


def entries_open(acc) -> list:
    return [o for o in acc.open_orders.values() if not o.close]


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_equity_stop_fires_survives_a_restart_mid_cooldown_and_resumes(exchange, tmp_path):
    path = tmp_path / "risk.json"
    emu = Emulator(exchange, "ETHUSDT", fall_then_rise(), start_index=1440, realism="minute")
    await emu.start()
    bot = bot2 = None
    try:
        bot = await new_bot(exchange, emu, path)
        acc = emu.account
        assert len(entries_open(acc)) == 2  # trading: an initial entry per side
        fired_at = None
        for _ in range(150):  # into the fall until the stop fires
            await emu.advance(1)
            await settle(bot, emu)
            if load_risk_state(path).stop_until_ms > 0:
                fired_at = acc.clock - 1  # the candle at whose close it fired
                break
        assert fired_at is not None, "the equity stop never fired on a 12 % fall"
        until = load_risk_state(path).stop_until_ms
        assert until == int(emu.candles[fired_at, 0]) + 60_000 * (1 + COOLDOWN)
        # closed at market: at the open of the candle in progress one price step (0.01) against
        # the taker (fills.market_price_nb, the backtest's price), taker fee, both sides flat
        takers = [f for f in acc.fills if f["taker"]]
        open_ = emu.candles[fired_at + 1, 1]
        assert takers and all(
            f["price"] == pytest.approx(open_ - f["side"] * 0.01, abs=1e-9) for f in takers)
        assert all(f["fee"] == pytest.approx(f["qty"] * f["price"] * acc.taker_fee, rel=1e-9)
                   for f in takers)
        assert acc.positions[LONG].size == 0.0 and acc.positions[SHORT].size == 0.0
        assert not load_risk_state(path).close_pending
        assert entries_open(acc) == []
        n_fills = len(acc.fills)
        for _ in range(COOLDOWN // 2):  # half the cool-down: nothing opens
            await emu.advance(1)
            await settle(bot, emu)
            assert entries_open(acc) == []
        await bot.stop()  # a restart in the middle of the cool-down
        bot = None
        bot2 = await new_bot(exchange, emu, path)
        assert bot2.risk.st.stop_until_ms == until
        while int(emu.candles[acc.clock - 1, 0]) + 60_000 < until:
            assert entries_open(acc) == [], "an entry during the cool-down after a restart"
            await emu.advance(1)
            await settle(bot2, emu)
        assert len(acc.fills) == n_fills  # nothing filled while stopped
        # the cool-down is over at this close: entries again (a fresh equity peak, no re-fire)
        assert len(entries_open(acc)) == 2
        assert load_risk_state(path).stop_until_ms == until
    finally:
        for b in (bot, bot2):
            if b is not None:
                await b.stop(cancel_on_exit=True)
        await emu.stop()
