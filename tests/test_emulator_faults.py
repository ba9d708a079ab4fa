"""Each injected fault surfaces in real ccxt as the exception a real exchange would cause."""

import asyncio

import ccxt
import pytest

from passivbot.emulator import Emulator
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange

SYM = "ETH/USDT:USDT"
W = 10.0
POS = {"binance": {"positionSide": "LONG"}, "bybit": {"positionIdx": 1}}


@pytest.fixture(params=["binance", "bybit"])
async def env(request):
    name = request.param
    emu = Emulator(name, "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440)
    url = await emu.start()
    ex = create_exchange(name, api_key="key", secret="secret", emulator=url, rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    await asyncio.wait_for(ex.set_position_mode(True, SYM), W)
    yield name, emu, ex
    await ex.close()
    await emu.stop()


async def test_429_is_rate_limit_then_recovers(env):
    name, emu, ex = env
    emu.faults.http_errors(429, count=1)
    # ccxt binance raises DDoSProtection on any 429; bybit maps retCode 10006
    want = ccxt.DDoSProtection if name == "binance" else ccxt.RateLimitExceeded
    with pytest.raises(want):
        await ex.fetch_balance()
    assert emu.faults.http_count == 0
    assert (await ex.fetch_balance())["USDT"]["total"] == 10_000.0


@pytest.mark.parametrize("retry_after", [2.5, None])
async def test_429_retry_after_reaches_the_guard_where_each_venue_puts_it(env, retry_after):
    """http_errors(429, retry_after=s): Binance sends `Retry-After: s`, Bybit retCode 10006
    with `X-Bapi-Limit-Reset-Timestamp` = the answer's time + s; the bot's guard waits s.
    Without it: Binance's `Retry-After: 1`, Bybit no reset (the guard's default pause)."""
    import aiohttp

    from passivbot.exchanges import binance, bybit
    from passivbot.exchanges.guard import cool_down_seconds

    name, emu, _ = env
    caps, path = ((binance.CAPS, "/fapi/v1/time") if name == "binance" else
                  (bybit.CAPS, "/v5/market/time"))
    emu.faults.http_errors(429, count=1, retry_after=retry_after)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{emu.port}{path}") as r:
            status, headers, body = r.status, dict(r.headers), await r.text()
    assert status == 429 and emu.faults.http_count == 0
    if name == "binance":
        assert headers["Retry-After"] == ("2.5" if retry_after else "1")
    else:
        assert '"retCode":10006' in body.replace(" ", "")
        assert ("X-Bapi-Limit-Reset-Timestamp" in headers) == (retry_after is not None)
    # the guard's server-clock estimate is an hour off: Bybit's wait is relative to the answer
    want = retry_after or (1.0 if name == "binance" else caps.default_cool_down_s)
    assert cool_down_seconds(caps, status, headers, body, 3_600_000.0) == want


def test_retry_after_is_refused_where_no_venue_sends_it():
    from passivbot.emulator.faults import FaultInjector

    with pytest.raises(ValueError, match="retry_after"):
        FaultInjector().http_errors(503, retry_after=2.0)
    with pytest.raises(ValueError, match="retry_after"):
        FaultInjector().http_errors(429, retry_after=0.0)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_exchange_not_available(env, status):
    name, emu, ex = env
    emu.faults.http_errors(status, count=1)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await ex.fetch_open_orders(SYM)
    assert await ex.fetch_open_orders(SYM) == []


async def test_delay_beyond_client_timeout_is_request_timeout(env):
    name, emu, ex = env
    ex.timeout = 200  # ms
    emu.faults.delay(1.0, count=1)
    with pytest.raises(ccxt.RequestTimeout):
        await ex.fetch_balance()
    emu.faults.delay(0.1, count=1)
    assert (await ex.fetch_balance())["USDT"]["total"] == 10_000.0


async def test_rejected_orders_are_invalid_order(env):
    name, emu, ex = env
    emu.faults.reject_orders(1)
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0, POS[name])
    o = await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0, POS[name])
    assert o["id"]


async def test_dropped_websocket_is_network_error_on_watch(env):
    name, emu, ex = env
    watch = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
    await eventually(lambda: any(c.topics for c in emu.conns))
    assert await emu.faults.drop_websockets() >= 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(watch, W)
    # a new watch reconnects and streams again
    again = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
    await eventually(lambda: any(c.topics for c in emu.conns))
    await emu.advance(1)
    assert (await asyncio.wait_for(again, W))[-1][0] == int(emu.candles[1440, 0])


@pytest.mark.parametrize("env", ["binance"], indirect=True)  # listenKey is Binance's
async def test_binance_expired_listen_key_in_minute_mode_sends_event_and_closes(env):
    _, emu, ex = env
    watch = asyncio.ensure_future(ex.watch_orders(SYM))
    await eventually(lambda: any(c.kind == "user" for c in emu.conns))
    sent = emu.counters["ws_messages"]
    assert await emu.faults.expire_listen_key(silent=False) == 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(watch, W)
    assert emu.counters["ws_messages"] == sent + 1  # the listenKeyExpired event
    assert not any(c.kind == "user" for c in emu.conns)
    with pytest.raises(ccxt.AuthenticationError):  # -1125 This listenKey does not exist.
        await ex.fapiPrivatePutListenKey()


@pytest.mark.parametrize("env", ["binance"], indirect=True)  # listenKey is Binance's
async def test_binance_expired_listen_key_leaves_the_socket_open_and_silent(env):
    """Binance's real behaviour (the realistic mode's default): the event, then nothing more
    on that socket, which stays open; the user's fills are no longer pushed."""
    _, emu, ex = env
    watch = asyncio.ensure_future(ex.watch_orders(SYM))
    await eventually(lambda: any(c.kind == "user" for c in emu.conns))
    sent = emu.counters["ws_messages"]
    assert await emu.faults.expire_listen_key() == 1
    await eventually(lambda: emu.counters["ws_messages"] == sent + 1)
    await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0, POS["binance"])
    await emu.advance(1)
    await emu.wait_idle(0.05)
    assert emu.counters["ws_messages"] == sent + 1  # no ORDER_TRADE_UPDATE after the event
    user = [c for c in emu.conns if c.kind == "user"]
    assert len(user) == 1 and not user[0].ws.closed and not watch.done()
    with pytest.raises(ccxt.AuthenticationError):  # -1125: the key is gone
        await ex.fapiPrivatePutListenKey()
    watch.cancel()


@pytest.mark.parametrize("name", ["binance", "bybit"])
async def test_key_pair_is_checked_when_configured(name):
    emu = Emulator(name, "ETHUSDT", flat_candles(2000, 2000.0, 1.0), start_index=1440,
                   api_key="key", api_secret="right")
    url = await emu.start()
    good = create_exchange(name, api_key="key", secret="right", emulator=url, rate_limit=False)
    bad = create_exchange(name, api_key="key", secret="wrong", emulator=url, rate_limit=False)
    try:
        await asyncio.wait_for(good.load_markets(), W)
        assert (await good.fetch_balance())["USDT"]["total"] == 10_000.0
        await good.set_position_mode(True, SYM)
        assert (await good.create_order(SYM, "limit", "buy", 0.1, 1990.0, POS[name]))["id"]
        bad.markets, bad.markets_by_id, bad.symbols = good.markets, good.markets_by_id, good.symbols
        bad.options.update(enableUnifiedAccount=True, enableUnifiedMargin=False)
        with pytest.raises(ccxt.AuthenticationError):
            await bad.fetch_balance()
    finally:
        await good.close()
        await bad.close()
        await emu.stop()
