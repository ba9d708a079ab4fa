"""Clock and rate limits as the venues answer them, through real ccxt: recvWindow (-1021 /
10002 -> InvalidNonce) with a skewed server clock; Binance weights, 429 + Retry-After, escalating
418 bans; Bybit 10006 with X-Bapi-Limit* headers and the 403 IP ban; Binance's 24 h cut."""

import asyncio
import time

import aiohttp
import ccxt
import pytest

from passivbot.emulator import Emulator
from passivbot.emulator import limits
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange

SYM = "ETH/USDT:USDT"
W = 10.0


@pytest.fixture(params=["binance", "bybit"])
async def env(request):
    emu = Emulator(request.param, "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    ex = create_exchange(request.param, api_key="key", secret="secret", emulator=url,
                         rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    yield request.param, emu, ex, url
    await ex.close()
    await emu.stop()


async def test_signed_request_ahead_of_a_skewed_server_clock_is_invalid_nonce(env):
    name, emu, ex, _ = env
    assert (await ex.fetch_balance())["USDT"]["total"] == 10_000.0  # local clock: accepted
    emu.faults.skew_clock(-2000)  # the server is 2 s behind: the client is 2 s ahead
    with pytest.raises(ccxt.InvalidNonce):  # Binance -1021, Bybit 10002
        await ex.fetch_balance()
    assert emu.counters["clock_rejects"] == 1
    ex.options["timeDifference"] = 2000  # ccxt's own correction (local - server)
    assert (await ex.fetch_balance())["USDT"]["total"] == 10_000.0
    emu.faults.skew_clock(0)


async def test_market_clock_offset_is_accepted_too(env):
    """A client that signs with the offset it measured from /time (the market clock) passes."""
    name, emu, ex, _ = env
    server = await ex.fetch_time()
    ex.options["timeDifference"] = int(time.time() * 1000) - server
    assert (await ex.fetch_balance())["USDT"]["total"] == 10_000.0


def test_clock_verdicts():
    c = limits.ClockCheck(lambda: 1_000_000)
    assert c.verdict(1_000_500, 5000) == "" and c.verdict(995_000, 5000) == ""
    assert c.verdict(1_001_001 + 10**12, 5000) == "ahead"
    assert c.verdict(994_999, 5000) == "behind"
    now = int(time.time() * 1000)
    assert c.verdict(now, 5000) == ""  # the wall clock


async def get(url: str, path: str) -> tuple[int, dict, str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url + path) as r:
            return r.status, dict(r.headers), await r.text()


async def test_binance_weight_header_429_retry_after_then_escalating_418_bans():
    emu = Emulator("binance", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    emu.set_speed(1.0)
    try:
        st, h, _ = await get(url, "/fapi/v1/time")
        st2, h2, _ = await get(url, "/fapi/v1/klines?symbol=ETHUSDT&interval=1m&limit=1000")
        assert st == st2 == 200
        assert int(h2["X-MBX-USED-WEIGHT-1M"]) - int(h["X-MBX-USED-WEIGHT-1M"]) == 5
        emu.set_speed(600.0)  # a venue minute is 0.1 s: the 2-minute ban 0.2 s
        emu.faults.exhaust_rate_limit()
        st, h, body = await get(url, "/fapi/v1/time")
        assert st == 429 and int(h["Retry-After"]) >= 1 and '"code":-1003' in body.replace(" ", "")
        for _ in range(limits.STRIKES_BEFORE_BAN):  # keeps calling inside the Retry-After
            st, h, body = await get(url, "/fapi/v1/time")
        assert st == 418 and "banned until" in body and "Retry-After" in h
        first = emu.limiter.banned_until - time.monotonic()
        assert 0 < first <= 120 / 600
        await eventually(lambda: time.monotonic() > emu.limiter.banned_until, 2)
        assert (await get(url, "/fapi/v1/time"))[0] == 200  # the ban and the window are over
        emu.faults.ip_ban()  # a repeat offender: twice as long
        assert emu.limiter.banned_until - time.monotonic() > first * 1.5
        assert (await get(url, "/fapi/v1/time"))[0] == 418
    finally:
        await emu.stop()


async def test_binance_income_history_counts_weight_30():
    """GET /fapi/v1/income (the funding history the bot reads) weighs 30 (Binance docs, "Get
    Income History"), not the default 1: the used-weight header grows by 30 over the call."""
    emu = Emulator("binance", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    emu.set_speed(1.0)  # one weight window is a wall minute: both calls fall in it
    ex = create_exchange("binance", api_key="key", secret="secret", emulator=url,
                         rate_limit=False)
    try:
        await asyncio.wait_for(ex.load_markets(), W)
        await ex.fetch_time()
        before = int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"])
        await ex.fetch_funding_history(SYM)
        after = int(ex.last_response_headers["X-MBX-USED-WEIGHT-1M"])
        assert after - before == 30
    finally:
        await ex.close()
        await emu.stop()


async def test_binance_order_count_limit_is_429_minus_1015_without_retry_after():
    emu = Emulator("binance", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    emu.set_speed(1.0)
    try:
        # (time, 10 s count, 1 min count): 299 single orders just now
        emu.limiter.orders = [(time.monotonic(), 1, 1)] * (limits.BINANCE_ORDERS_10S - 1)
        async with aiohttp.ClientSession() as s:
            form = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1",
                    "price": "1990", "timeInForce": "GTX", "positionSide": "BOTH"}
            async with s.post(url + "/fapi/v1/order", data=form) as r:
                assert r.status == 200 and r.headers["X-MBX-ORDER-COUNT-10S"] == "300"
            async with s.post(url + "/fapi/v1/order", data=form) as r:
                body = await r.json()
                assert r.status == 429 and body["code"] == -1015
                assert "Retry-After" not in r.headers
        assert emu.counters["orders_created"] == 1
    finally:
        await emu.stop()


async def test_binance_429_and_418_reach_ccxt_as_rate_limit_errors():
    emu = Emulator("binance", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    ex = create_exchange("binance", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        emu.faults.exhaust_rate_limit()
        with pytest.raises((ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
            await ex.fetch_balance()
        emu.faults.ip_ban(60)
        with pytest.raises(ccxt.DDoSProtection):
            await ex.fetch_balance()
        emu.faults.clear_limits()
        assert (await ex.fetch_balance())["USDT"]["total"] == 10_000.0
    finally:
        await ex.close()
        await emu.stop()


async def test_bybit_endpoint_limit_headers_10006_and_the_403_ip_ban():
    emu = Emulator("bybit", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    emu.set_speed(600.0)
    ex = create_exchange("bybit", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        st, h, _ = await get(url, "/v5/order/realtime?category=linear&symbol=ETHUSDT")
        assert st == 200 and h["X-Bapi-Limit"] == "50" and int(h["X-Bapi-Limit-Status"]) <= 49
        assert int(h["X-Bapi-Limit-Reset-Timestamp"]) >= emu.account.now_ms()
        emu.faults.exhaust_rate_limit(seconds=600)  # 1 s at speed 600
        st, h, body = await get(url, "/v5/order/realtime?category=linear&symbol=ETHUSDT")
        assert st == 200 and '"retCode": 10006' in body and h["X-Bapi-Limit-Status"] == "0"
        with pytest.raises(ccxt.RateLimitExceeded):
            await ex.fetch_open_orders(SYM)
        emu.faults.clear_limits()
        emu.faults.ip_ban()  # 10 minutes at speed 600: 1 s
        st, h, _ = await get(url, "/v5/market/time")
        assert st == 403 and int(h["Retry-After"]) == 1
        with pytest.raises(ccxt.RateLimitExceeded):  # ccxt maps Bybit's 403
            await ex.fetch_time()
        await eventually(lambda: time.monotonic() > emu.limiter.banned_until, 3)
        assert (await get(url, "/v5/market/time"))[0] == 200
    finally:
        await ex.close()
        await emu.stop()


async def test_bybit_ip_limit_of_600_requests_per_5_s_bans_for_10_minutes():
    emu = Emulator("bybit", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    emu.set_speed(1.0)
    try:
        statuses = []
        async with aiohttp.ClientSession() as s:
            for _ in range(limits.BYBIT_IP_LIMIT + 1):
                async with s.get(url + "/v5/market/time") as r:
                    statuses.append(r.status)
        assert statuses[:limits.BYBIT_IP_LIMIT] == [200] * limits.BYBIT_IP_LIMIT
        assert statuses[-1] == 403
        assert emu.limiter.banned_until - time.monotonic() > 590
    finally:
        await emu.stop()


async def test_binance_cuts_websockets_after_24h_of_market_time():
    emu = Emulator("binance", "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    ex = create_exchange("binance", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        watch = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
        await eventually(lambda: any(c.topics for c in emu.conns))
        await emu.advance(1)
        await asyncio.wait_for(watch, W)
        conn = next(c for c in emu.conns if c.topics)
        conn.opened_ms -= 86_400_000  # opened a day ago
        watch = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
        await emu.advance(1)
        with pytest.raises(ccxt.NetworkError):
            for _ in range(3):
                await asyncio.wait_for(watch, W)
                watch = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
        assert emu.counters["ws_cut_24h"] == 1
    finally:
        await ex.close()
        await emu.stop()


def test_limiters_say_when_every_request_is_refused():
    """`refusing(now)`: what the fault campaign waits on before it counts the bot's requests
    again (a request sent then would be refused whatever it is)."""
    b = limits.BinanceLimiter(speed=60.0)
    now = time.monotonic()
    assert not b.refusing(now)
    b.exhaust()  # the window's weight used up until the next window (1 s at speed 60)
    assert b.refusing(time.monotonic())
    assert not b.refusing(time.monotonic() + b.window_s)
    b.ban(60.0)  # 60 venue seconds = 1 wall second
    assert b.refusing(time.monotonic()) and not b.refusing(time.monotonic() + 1.5)
    y = limits.BybitLimiter(speed=60.0, market_ms=lambda: 0)
    assert not y.refusing(time.monotonic())
    y.exhaust(60.0)
    assert y.refusing(time.monotonic()) and not y.refusing(time.monotonic() + 1.5)
    y.ban()  # 600 venue seconds = 10 wall seconds
    assert y.refusing(time.monotonic() + 9.0) and not y.refusing(time.monotonic() + 10.5)
