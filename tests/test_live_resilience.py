"""Long failure streaks: the bot's backoffs and stream tasks survive any number of failures
(regressions: OverflowError after 1,025 skipped cycles / failures, a stream task that died
for good after 1,025 consecutive errors)."""

import asyncio
import logging

import ccxt
import numpy as np

from passivbot.config import load_live_config
from passivbot.exchanges import binance
from passivbot.exchanges.errors import Redactor
from passivbot.live.bot import BotOptions, LiveBot
from passivbot.live.streams import Stream, run_stream
from passivbot.records import M_MIN_COST, M_MIN_QTY, M_PRICE_STEP, M_QTY_STEP, N_MARKET

CFG = load_live_config("ETH-J1")
LOG = logging.getLogger("test-resilience")


class Rejecting:
    """An adapter whose creates are all refused for insufficient margin."""

    caps = binance.CAPS

    def __init__(self):
        self.creates = 0

    async def create_order(self, side, close, qty, price, client_id):
        self.creates += 1
        raise ccxt.InsufficientFunds('{"code": -2019, "msg": "Margin is insufficient."}')

    async def cancel_order(self, order_id):
        return {"id": order_id}


def primed_bot(adapter, **opts) -> LiveBot:
    """A bot whose state makes the calculator want orders (no exchange needed to decide)."""
    bot = LiveBot(adapter, CFG, LOG, options=BotOptions(use_local_clock=False, **opts))
    bot.market = np.zeros(N_MARKET)
    bot.market[[M_PRICE_STEP, M_QTY_STEP, M_MIN_QTY, M_MIN_COST]] = 0.01, 0.001, 0.001, 5.0
    st = bot.state
    st.balance, st.emas[:] = 1000.0, 2000.0
    st.set_last_price(2000.0, 1)
    st.close_price = 2000.0
    return bot


async def test_skip_backoff_does_not_overflow_after_1025_skipped_cycles():
    """Regression: `0.5 * 2 ** (streak - 1)` raised OverflowError once 1,025 cycles in a row
    skipped an order (minutes of "margin insufficient"); now the delay stays capped."""
    a = Rejecting()
    bot = primed_bot(a, max_actions=2)
    bot.skip_streak = 1_100
    await bot.cycle()  # raised OverflowError before the fix
    assert a.creates >= 1 and bot.skip_streak == 1_101
    handle = bot._retry_handle
    assert handle is not None
    delay = handle.when() - asyncio.get_running_loop().time()
    assert 0 < delay <= 30.0
    handle.cancel()


async def test_cycle_loop_survives_1100_failures_in_a_row_with_capped_backoff():
    """Regression: a long outage (every cycle failing) must neither overflow nor stop the loop."""
    bot = primed_bot(Rejecting(), debounce_s=0.0)
    bot.fail_backoff.base_delay = bot.fail_backoff.max_delay = 0.0  # cheap: no waiting
    calls = 0

    async def failing_cycle():
        nonlocal calls
        calls += 1
        if calls >= 1_100:
            bot.stopping.set()
        raise ccxt.ExchangeNotAvailable("503")

    bot.cycle = failing_cycle
    bot.log.setLevel(logging.ERROR)
    bot.trigger("start")
    await asyncio.wait_for(bot._cycle_loop(), 60)
    assert calls == 1_100 and bot.fail_backoff.streak == 1_100 and bot.stop_error is None
    bot.fail_backoff.max_delay = 30.0
    assert bot.fail_backoff.fail() <= 30.0


async def test_heal_backoff_after_1100_reconcile_cycles_is_capped():
    bot = primed_bot(Rejecting(), debounce_s=0.0)
    bot.heal_streak = 1_100
    slept = []

    async def pause(s):
        slept.append(s)
        bot.stopping.set()

    async def cycle():
        bot.heal_streak += 1

    bot._pause, bot.cycle = pause, cycle
    bot.trigger("x")
    await asyncio.wait_for(bot._cycle_loop(), 5)
    assert slept and 0 < slept[0] <= 30.0


async def test_stream_task_keeps_reconnecting_after_1100_failures_then_delivers():
    """Regression: run_stream gave up after 1,025 consecutive failures (overflow, then a
    silent exit); a stream must reconnect however long the outage lasts."""
    calls, got, stopping = 0, [], asyncio.Event()

    async def watch():
        nonlocal calls
        calls += 1
        if calls <= 1_100:
            raise ccxt.NetworkError("connection refused")
        stopping.set()
        return ["update"]

    log = logging.getLogger("test-stream")
    log.setLevel(logging.ERROR)
    s = Stream("orders", watch, got.append)
    reconnects = []
    await asyncio.wait_for(run_stream(
        s, ex=object(), stopping=stopping, on_reconnect=lambda: reconnects.append(1),
        on_stop=lambda e: (_ for _ in ()).throw(AssertionError(e)), log=log,
        redact=Redactor(), base_delay=0.0, max_delay=0.0), 60)
    assert calls == 1_101 and got == [["update"]] and s.stats.errors == 1_100
    assert len(reconnects) == 1_100


async def test_stream_with_a_failure_limit_stops_the_bot_loudly():
    stopping, stops = asyncio.Event(), []

    async def watch():
        raise ccxt.NetworkError("down")

    log = logging.getLogger("test-stream-limit")
    log.setLevel(logging.ERROR)
    await asyncio.wait_for(run_stream(
        Stream("ticker", watch, print), ex=object(), stopping=stopping, on_reconnect=lambda: None,
        on_stop=stops.append, log=log, redact=Redactor(), base_delay=0.0, max_delay=0.0,
        max_attempts=5), 10)
    assert len(stops) == 1 and "ticker failed 5 times" in str(stops[0])


async def test_a_watch_cancelled_under_the_stream_is_an_error_not_the_end_of_the_task():
    """Regression: ccxt cancels the futures of a client closed under them; the CancelledError
    ended the stream task for good (only the 60 s REST check remained)."""
    calls, got, stopping = 0, [], asyncio.Event()

    async def watch():
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError()  # what ccxt's client.close() does to a watch
        stopping.set()
        return ["after"]

    log = logging.getLogger("test-stream-cancelled")
    log.setLevel(logging.ERROR)
    s = Stream("orders", watch, got.append)
    await asyncio.wait_for(run_stream(
        s, ex=object(), stopping=stopping, on_reconnect=lambda: None,
        on_stop=lambda e: None, log=log, redact=Redactor(), base_delay=0.0, max_delay=0.0), 10)
    assert got == [["after"]] and s.stats.errors == 1


async def test_restart_abandons_a_pending_watch_without_cancelling_it():
    """A kicked stream watches again at once; the abandoned watch is not cancelled (a ccxt
    watch cancelled mid listen-key request parks every later user-stream watch)."""
    stopping, reconnects, cancelled = asyncio.Event(), [], []
    release = asyncio.Event()
    calls = 0

    async def watch():
        nonlocal calls
        calls += 1
        if calls == 1:
            try:
                await release.wait()  # hangs, like a watch on a closed client
            except asyncio.CancelledError:
                cancelled.append(1)
                raise
            return ["late"]
        stopping.set()
        return ["fresh"]

    log = logging.getLogger("test-stream-kick")
    got = []
    s = Stream("orders", watch, got.append)
    task = asyncio.get_running_loop().create_task(run_stream(
        s, ex=object(), stopping=stopping, on_reconnect=lambda: reconnects.append(1),
        on_stop=lambda e: None, log=log, redact=Redactor()))
    for _ in range(100):
        if calls == 1:
            break
        await asyncio.sleep(0.01)
    s.restart()
    await asyncio.wait_for(task, 5)
    assert got == [["fresh"]] and reconnects == [1] and s.stats.resubscribes == 1
    release.set()
    await asyncio.sleep(0.01)
    assert cancelled == []  # the abandoned watch ran to its end, never cancelled
