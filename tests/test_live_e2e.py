"""End to end, in lockstep: the real bot (real ccxt async + pro) trades the emulator on
127.0.0.1, one candle at a time, for both exchanges. After every settled minute the
emulator's open orders must equal the calculator's ideal orders computed independently from
the emulator's account and the candles."""

import asyncio

import pytest

from passivbot.config import load_live_config
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.exchanges.errors import Redactor
from passivbot.exchanges.registry import make_adapter
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.live.console import setup_logging
from harness.live import (
    emulator_book, expected_orders, fall_then_rise, settle, wait_subscribed, wanted_book,
)
from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, SHORT

EXCHANGES = ["binance", "bybit"]
OPTS = BotOptions(use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01,
                  reconcile_every_s=1e9, status_every_s=1e9, orders_per_s=1000)
CFG = load_live_config("ETH-J1")


async def new_bot(exchange, emu, tmp_path=None, opts=OPTS):
    ex = create_exchange(exchange, api_key="test-key", secret="test-secret",
                         emulator=f"127.0.0.1:{emu.port}", rate_limit=False)
    log, _ = setup_logging(f"test-{exchange}", Redactor(), "WARNING", None)
    bot = LiveBot(make_adapter(exchange, ex, "ETHUSDT"), CFG, log, options=opts)
    await asyncio.wait_for(bot.start(), 20)
    await wait_subscribed(emu)
    await settle(bot, emu)
    return bot


@pytest.fixture
async def emu_factory():
    emus = []

    async def make(exchange, candles=None):
        emu = Emulator(exchange, "ETHUSDT", fall_then_rise() if candles is None else candles,
                       start_index=1440)
        await emu.start()
        emus.append(emu)
        return emu

    yield make
    for e in emus:
        await e.stop()


def assert_ideal(bot, emu):
    exp = wanted_book(expected_orders(emu.account, emu.candles, 0, bot.state.params, bot.market))
    assert emulator_book(emu.account) == exp, f"minute {emu.clock}"


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_bot_trades_fall_and_rise_with_ideal_orders_every_minute(exchange, emu_factory):
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu)
    try:
        acc = emu.account
        assert acc.hedge_mode and acc.leverage == CFG.leverage
        # initial entries: one per side, nothing else
        assert sorted((o.side, o.close) for o in acc.open_orders.values()) == [
            (SHORT, False), (LONG, False)]
        assert_ideal(bot, emu)
        while emu.clock < len(emu.candles) - 1:
            await emu.advance(1)
            await settle(bot, emu)
            assert_ideal(bot, emu)
        kinds = [(f["side"], f["kind"]) for f in acc.fills]
        assert (LONG, KIND_INITIAL_ENTRY) in kinds
        assert kinds.count((LONG, KIND_REENTRY)) >= 3  # re-entered as the price fell
        assert (LONG, KIND_CLOSE) in kinds and acc.positions[LONG].size == 0.0  # took profit
        assert sum(f["pnl"] for f in acc.fills if f["kind"] == KIND_CLOSE) > 0
        assert (SHORT, KIND_INITIAL_ENTRY) in kinds  # and the short side entered on the rise
        assert emu.counters["orders_rejected"] == 0
        assert not any(f["taker"] for f in acc.fills)  # every fill a maker fill
    finally:
        left = await bot.stop()
    assert {str(o["id"]) for o in left} == {str(i) for i in emu.account.open_orders}


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_restart_adopts_position_and_orders_without_duplicates(exchange, emu_factory):
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu)
    for _ in range(60):  # into the fall: a long position with its grid
        await emu.advance(1)
        await settle(bot, emu)
    assert emu.account.positions[LONG].size > 0
    await bot.stop()  # orders stay on the exchange
    ids_before = set(emu.account.open_orders)
    created = emu.counters["orders_created"]
    bot2 = await new_bot(exchange, emu)
    try:
        assert set(emu.account.open_orders) == ids_before  # adopted, nothing replaced
        assert emu.counters["orders_created"] == created
        assert_ideal(bot2, emu)
        for _ in range(30):
            await emu.advance(1)
            await settle(bot2, emu)
            assert_ideal(bot2, emu)
    finally:
        await bot2.stop(cancel_on_exit=True)
    assert not emu.account.open_orders  # --cancel-on-exit
    assert emu.account.positions[LONG].size > 0  # positions are never closed by shutdown


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_heals_after_websocket_drop_rejects_and_orders_cancelled_behind_its_back(
        exchange, emu_factory):
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu, opts=BotOptions(
        use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01, reconcile_every_s=0.5,
        status_every_s=1e9, orders_per_s=1000))
    try:
        for i in range(40):
            if i == 5:
                await emu.faults.drop_websockets()
            if i == 8 and exchange == "binance":
                await emu.faults.expire_listen_key()
            if i == 12:
                emu.faults.reject_orders(2)
            if i == 20:  # someone cancels our orders by hand: the bot notices and replaces them
                emu.account.cancel_all()
            await emu.advance(1)
            await settle(bot, emu, timeout=15)
            if i in (12, 20):  # the periodic reconciliation heals the rejected / lost orders
                for _ in range(100):
                    exp = wanted_book(expected_orders(emu.account, emu.candles, 0,
                                                      bot.state.params, bot.market))
                    if emulator_book(emu.account) == exp:
                        break
                    await asyncio.sleep(0.05)
            assert_ideal(bot, emu)
        assert sum(s.stats.errors for s in bot.streams) >= 1  # the drop was seen ...
        assert emu.counters["ws_connections"] > 3  # ... and the streams reconnected
        if exchange == "binance":  # with a new listen key after the old one expired
            assert any(c.kind == "user" for c in emu.conns)
    finally:
        await bot.stop()


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_silent_market_stream_is_resubscribed_and_trading_goes_on(exchange, emu_factory):
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu, opts=BotOptions(
        use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01, reconcile_every_s=1e9,
        status_every_s=1e9, orders_per_s=1000, market_silence_s=1.0))
    try:
        conns = emu.counters["ws_connections"]
        for _ in range(500):  # no candle for a while: the market streams fall silent
            if emu.counters["ws_connections"] > conns:
                break
            await asyncio.sleep(0.01)
        assert sum(s.stats.resubscribes for s in bot.streams) >= 1
        assert emu.counters["ws_connections"] > conns  # fresh connections
        await wait_subscribed(emu)
        for _ in range(5):
            await emu.advance(1)
            await settle(bot, emu)
            assert_ideal(bot, emu)
    finally:
        await bot.stop()
