"""The clock (lockstep and real time), wait_idle, and the ccxt factory's host rewrite."""

import asyncio
import time

import pytest

from passivbot.emulator import Emulator
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange


def walk(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)
    elif isinstance(node, str):
        yield node


@pytest.mark.parametrize("name", ["binance", "bybit"])
async def test_factory_points_every_api_url_at_the_emulator_and_keeps_paths(name):
    ex = create_exchange(name, api_key=None, secret=None, emulator="127.0.0.1:9999")
    try:
        urls = list(walk(ex.urls["api"]))
        assert urls and all(u.startswith(("http://127.0.0.1:9999", "ws://127.0.0.1:9999"))
                            for u in urls)
        assert ex.options["defaultType"] == "swap"
        real = create_exchange(name, api_key=None, secret=None)
        assert all("127.0.0.1" not in u for u in walk(real.urls["api"]))
        await real.close()
    finally:
        await ex.close()


async def test_advance_moves_server_time_and_last_price():
    c = flat_candles(10, 100.0)
    emu = Emulator("binance", "ETHUSDT", c, start_index=3)
    c[4, 4] = 123.45
    assert emu.account.now_ms() == int(c[3, 0])
    await emu.advance(2)
    assert emu.clock == 5
    assert emu.account.now_ms() == int(c[5, 0]) and emu.account.last_price == 123.45
    await emu.advance(5)
    with pytest.raises(IndexError):
        await emu.advance(1)


async def test_run_realtime_advances_every_60_over_speed_seconds():
    emu = Emulator("bybit", "ETHUSDT", flat_candles(100, 2000.0), start_index=10)
    await emu.start()
    try:
        t0 = time.monotonic()
        await asyncio.wait_for(emu.run_realtime(speed=3000.0, max_minutes=5), 5)
        assert emu.clock == 15
        assert time.monotonic() - t0 >= 5 * 60 / 3000.0
        task = asyncio.ensure_future(emu.run_realtime(speed=6000.0))
        await eventually(lambda: emu.clock > 16)
        await emu.stop()
        await asyncio.wait_for(task, 2)
        assert 15 < emu.clock < 100
    finally:
        await emu.stop()


async def test_wait_idle_returns_after_requests_settle():
    emu = Emulator("binance", "ETHUSDT", flat_candles(2000, 2000.0), start_index=1440)
    url = await emu.start()
    ex = create_exchange("binance", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        emu.faults.delay(0.2, count=1)
        pending = asyncio.ensure_future(ex.fetch_time())
        await eventually(lambda: emu.counters["requests"]["GET /fapi/v1/time"] == 1)
        t0 = time.monotonic()
        assert await emu.wait_idle(idle_s=0.02, timeout=5)
        assert time.monotonic() - t0 >= 0.1 and pending.done()
        assert emu.counters["requests"]["GET /fapi/v1/time"] == 1
    finally:
        await ex.close()
        await emu.stop()


async def test_wall_clock_emulator_serves_market_time_as_host_time():
    """For clients on their local clock (the bot's local-clock path): candle start_index opens
    at this wall minute and the path runs on the host clock (speed 1 only)."""
    import numpy as np

    c = flat_candles(10, 2000.0, 1.0)
    emu = Emulator("binance", "ETHUSDT", c, start_index=5, wall_clock=True)
    url = await emu.start()
    ex = create_exchange("binance", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        assert c[5, 0] != emu.candles[5, 0]  # the caller's array is not changed
        assert np.all(np.diff(emu.candles[:, 0]) == 60_000)
        run = asyncio.ensure_future(emu.run_realtime(speed=1.0, max_minutes=1))
        await eventually(lambda: emu.account.tick_ms > 0, timeout=5)
        server = await ex.fetch_time()
        assert abs(server - time.time() * 1000) < 2_000  # market time ~ wall time
        with pytest.raises(ValueError):
            await emu.run_realtime(speed=60.0)
        run.cancel()
    finally:
        await ex.close()
        await emu.stop()
