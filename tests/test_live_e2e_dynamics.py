"""End to end against the emulator with real ccxt: the server offset reaches ccxt's signing,
a silent user stream is noticed and the take-profits placed within 10 s of the fill, a
Retry-After stops every request and trading resumes right after it, a user's manual order
is left alone, and the bot's local-clock path (close grace, REST gap fill) trades an
emulator running on its own clock."""

import asyncio
import time

import pytest

from passivbot.emulator import Emulator
from passivbot.live.bot import BotOptions
from harness.live import (
    emulator_book, expected_orders, fall_then_rise, settle, wanted_book,
)
from passivbot.records import LONG
from tests.test_live_e2e import OPTS, new_bot

EXCHANGES = ["binance", "bybit"]
USER_TOPICS = {"order", "execution", "position", "wallet"}


@pytest.fixture
async def emu_factory():
    emus = []

    async def make(exchange, start_index=1440):
        emu = Emulator(exchange, "ETHUSDT", fall_then_rise(), start_index=start_index)
        await emu.start()
        emus.append(emu)
        return emu

    yield make
    for e in emus:
        await e.stop()


def at_ideal(bot, emu) -> bool:
    exp = wanted_book(expected_orders(emu.account, emu.candles, 0, bot.state.params, bot.market))
    return emulator_book(emu.account) == exp


async def until(pred, timeout: float, every: float = 0.02) -> float:
    """Seconds until pred() holds; AssertionError after timeout."""
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)
    return time.monotonic() - t0


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_measured_server_offset_reaches_ccxt_signing(exchange, emu_factory):
    """Regression: the bot measured the offset but never gave it to ccxt, so signed requests
    carried the local clock (refused by a real exchange past recvWindow)."""
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu)
    try:
        ex = bot.adapter.ex
        server = emu.account.now_ms()  # the emulator's clock stands still between minutes
        assert abs(ex.nonce() - server) < 5_000  # local clock is years away from it
        assert abs(ex.options["timeDifference"] + bot.time_offset) <= 1
    finally:
        await bot.stop()


def silence_user_stream(emu) -> None:
    """An open socket that stops delivering user events (Binance listenKeyExpired)."""
    for c in list(emu.conns):
        if c.kind == "user":
            c.kind = "silenced"
        c.topics -= USER_TOPICS


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_silent_user_stream_noticed_and_take_profits_within_10s(exchange, emu_factory):
    """Regression: with a silent listen key the fills were seen only by the 60 s REST
    reconcile (take-profits 57.7 s after the fill)."""
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu, opts=BotOptions(
        use_local_clock=False, debounce_s=0.003, settle_quiet_s=0.01, reconcile_every_s=1e9,
        status_every_s=1e9, orders_per_s=1000))
    try:
        acc = emu.account
        while acc.positions[LONG].size == 0:  # a position and its grid, streams alive
            await emu.advance(1)
            await settle(bot, emu)
        silence_user_stream(emu)
        fills = len(acc.fills)
        for _ in range(200):  # down the grid until a re-entry fills (the bot has no reason
            await emu.advance(1)  # to touch that order: only liveness can tell)
            await until(lambda: bot.state.last_closed_ts == int(emu.candles[emu.clock - 1, 0]),
                        5.0)  # the market streams still deliver every minute
            if len(acc.fills) > fills:
                break
        assert len(acc.fills) > fills and not at_ideal(bot, emu)
        try:
            took = await until(lambda: at_ideal(bot, emu), 10.0)
        except AssertionError:
            exp = wanted_book(expected_orders(acc, emu.candles, 0, bot.state.params, bot.market))
            got = emulator_book(acc)
            raise AssertionError(f"missing {sorted(set(exp) - set(got))} extra "
                                 f"{sorted(set(got) - set(exp))} {bot.state.balance} "
                                 f"{acc.balance} {bot.state.psize}") from None
        assert took < 10.0
        assert bot.sync.silent_user_detected >= 1
        # the restarted user stream delivers again: the next fills come by stream
        await until(lambda: any(c.kind == "user" for c in emu.conns) or any(
            USER_TOPICS & c.topics for c in emu.conns), 10.0)
    finally:
        await bot.stop()


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_no_request_while_retry_after_runs_and_trading_resumes_within_2s(
        exchange, emu_factory):
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu)
    try:
        seen: list[tuple[float, int]] = []

        async def sample():
            while True:
                seen.append((time.monotonic(), sum(emu.counters["requests"].values())))
                await asyncio.sleep(0.01)

        sampler = asyncio.get_running_loop().create_task(sample())
        emu.faults.http_errors(429, 1, retry_after=1.5)  # where each venue puts its wait
        t0 = time.monotonic()
        bot.request_reconcile()
        await until(lambda: emu.faults.http_count == 0, 5.0)
        t_ban = time.monotonic()
        n_ban = sum(emu.counters["requests"].values())
        await emu.advance(3)  # the market moves on during the ban
        await settle(bot, emu, timeout=15)
        sampler.cancel()
        during = [n for t, n in seen if t_ban + 0.05 < t < t_ban + 1.4]
        assert during and max(during) == n_ban  # nothing sent while Retry-After ran
        resumed = [t for t, n in seen if n > n_ban]
        assert resumed and resumed[0] - t_ban < 1.5 + 2.0
        assert at_ideal(bot, emu) and bot.guard.cool.holds >= 1 and t_ban - t0 < 2
    finally:
        await bot.stop()


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_manual_order_is_left_alone(exchange, emu_factory):
    emu = await emu_factory(exchange)
    bot = await new_bot(exchange, emu)
    try:
        manual = emu.account.place(is_buy=True, qty=0.05, price=1500.0, position_side=LONG,
                                   client_id="web-manual-1")
        bot.request_reconcile()
        for _ in range(5):
            await emu.advance(1)
            await settle(bot, emu)
        assert manual.id in emu.account.open_orders, manual  # never cancelled
        assert str(manual.id) in bot.state.foreign_orders
        exp = wanted_book(expected_orders(emu.account, emu.candles, 0, bot.state.params,
                                          bot.market))
        ours = sorted(k for k in emulator_book(emu.account) if k[3] != 1500.0)
        assert ours == exp
    finally:
        await bot.stop()


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_local_clock_path_trades_an_emulator_on_its_own_clock(exchange, emu_factory):
    """The real-exchange path (local clock + server offset, close grace, REST gap fill after a
    dropped connection) against an emulator whose minutes pass on their own."""
    emu = await emu_factory(exchange, start_index=1440 + 100)
    bot = await new_bot(exchange, emu, opts=BotOptions(
        use_local_clock=True, close_grace_ms=300, debounce_s=0.003, settle_quiet_s=0.01,
        reconcile_every_s=1e9, status_every_s=1e9, orders_per_s=1000))
    runner = asyncio.get_running_loop().create_task(emu.run_realtime(speed=30.0, max_minutes=8))
    try:
        lags = []
        for minute in range(8):
            clock = emu.clock
            await until(lambda: emu.clock > clock, 5.0)
            if minute == 4:
                await emu.faults.drop_websockets()  # messages lost: REST fills the gap
            lags.append(await until(lambda: bot.state.last_closed_ts == int(
                emu.candles[emu.clock - 1, 0]) and at_ideal(bot, emu), 1.9))
        assert max(lags) < 1.9
        assert sum(s.stats.errors for s in bot.streams) >= 1  # the drop was seen
    finally:
        runner.cancel()
        await bot.stop()
