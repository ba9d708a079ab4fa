"""Real ccxt binanceusdm (async REST + pro websockets) trading the emulator on 127.0.0.1."""

import asyncio

import ccxt
import pytest

from passivbot.emulator import Emulator
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange

SYM = "ETH/USDT:USDT"
W = 10.0  # bound on every await


async def watch_until(watch, pred, first=None, n=5):
    """Re-watch until `pred(update)` (bounded count and time): streams may resend snapshots."""
    got = first
    for _ in range(n):
        if got is not None and pred(got):
            return got
        got = await asyncio.wait_for(watch(), W)
    assert pred(got), got
    return got


@pytest.fixture
async def env():
    c = flat_candles(3000, 2000.0, spread=1.0)
    emu = Emulator("binance", "ETHUSDT", c, start_index=1440)
    url = await emu.start()
    ex = create_exchange("binance", api_key="key", secret="secret", emulator=url,
                         rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    await asyncio.wait_for(ex.set_position_mode(True), W)
    yield emu, ex
    await ex.close()
    await emu.stop()


async def test_binds_localhost_only():
    emu = Emulator("binance", "ETHUSDT", flat_candles(10, 100.0), start_index=5)
    with pytest.raises(ValueError):
        await emu.start(host="0.0.0.0")


async def test_markets_balance_time_and_leverage(env):
    emu, ex = env
    m = ex.market(SYM)
    assert (m["precision"]["price"], m["precision"]["amount"]) == (0.01, 0.001)
    assert m["limits"]["cost"]["min"] == 20.0
    bal = await asyncio.wait_for(ex.fetch_balance(), W)
    assert bal["USDT"]["total"] == 10_000.0
    assert await ex.fetch_time() == int(emu.candles[1440, 0])
    await ex.set_leverage(10, SYM)
    assert emu.account.leverage == 10
    tiers = await ex.fetch_leverage_tiers([SYM])
    assert tiers[SYM][0]["maintenanceMarginRate"] == 0.004


async def test_orders_rest_then_fill_at_their_price_when_candle_trades_through(env):
    emu, ex = env
    buy = await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0,
                                {"positionSide": "LONG", "timeInForce": "GTX"})
    assert buy["status"] == "open"
    assert [o["id"] for o in await ex.fetch_open_orders(SYM)] == [buy["id"]]
    emu.candles[1440, 3] = 1989.0  # low trades through the buy
    await emu.advance(1)
    o = await ex.fetch_order(buy["id"], SYM)
    assert (o["status"], o["filled"], o["average"]) == ("closed", 0.1, 1990.0)
    pos = [p for p in await ex.fetch_positions([SYM]) if p["contracts"]]
    assert len(pos) == 1 and pos[0]["side"] == "long" and pos[0]["entryPrice"] == 1990.0
    fee = 0.1 * 1990.0 * 0.0002
    assert emu.account.balance == pytest.approx(10_000.0 - fee)
    # reduce-only close at a profit; Binance refuses reduceOnly beside a hedge-mode positionSide
    with pytest.raises(ccxt.BadRequest):
        await ex.create_order(SYM, "limit", "sell", 0.1, 2005.0,
                              {"positionSide": "LONG", "reduceOnly": "true"})
    close = await ex.create_order(SYM, "limit", "sell", 0.1, 2005.0,
                                  {"hedged": True, "reduceOnly": True, "postOnly": True})
    emu.candles[1441, 2] = 2006.0
    await emu.advance(1)
    assert (await ex.fetch_order(close["id"], SYM))["status"] == "closed"
    assert emu.account.positions[1].size == 0.0
    assert emu.account.fills[-1]["pnl"] == pytest.approx(1.5)


async def test_crossing_limit_fills_now_at_the_best_ask_as_taker(env):
    emu, ex = env
    ask = emu.account.ask
    assert ask == 2000.01 and emu.account.bid == 2000.0  # one tick around the last close
    o = await ex.create_order(SYM, "limit", "buy", 0.1, 2010.0, {"positionSide": "LONG"})
    assert o["status"] == "closed" and o["average"] == ask
    assert emu.account.fills[-1]["fee"] == pytest.approx(0.1 * ask * 0.0005)
    m = await ex.create_order(SYM, "market", "sell", 0.05, None, {"positionSide": "LONG"})
    assert m["status"] == "closed"
    assert emu.account.positions[1].size == pytest.approx(0.05)


@pytest.mark.parametrize("args,params,exc", [
    (("buy", 200.0, 1990.0), {"positionSide": "LONG"}, ccxt.InsufficientFunds),
    (("sell", 0.1, 2100.0), {"positionSide": "LONG"}, ccxt.InvalidOrder),  # reduce-only, no pos
    (("buy", 0.1, 2010.0), {"positionSide": "LONG", "timeInForce": "GTX"}, ccxt.OrderNotFillable),
    (("buy", 0.001, 1990.0), {"positionSide": "LONG"}, ccxt.InvalidOrder),  # min notional
    (("buy", 0.1, 1990.0), {}, ccxt.ExchangeError),  # no positionSide in hedge mode
])
async def test_rejections_map_to_ccxt_exceptions(env, args, params, exc):
    emu, ex = env
    with pytest.raises(exc):
        await ex.create_order(SYM, "limit", *args, params)
    assert emu.counters["orders_rejected"] == 1


async def test_price_off_tick_and_duplicate_client_id_and_unknown_cancel(env):
    emu, ex = env
    req = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1",
           "positionSide": "LONG", "timeInForce": "GTC"}
    with pytest.raises(ccxt.InvalidOrder):
        await ex.fapiPrivatePostOrder(dict(req, price="1990.005"))
    await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0,
                          {"positionSide": "LONG", "clientOrderId": "abc"})
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYM, "limit", "buy", 0.1, 1980.0,
                              {"positionSide": "LONG", "clientOrderId": "abc"})
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order("123", SYM)
    with pytest.raises(ccxt.BadSymbol):
        await ex.fapiPublicGetKlines({"symbol": "XRPUSDT", "interval": "1m"})


async def test_fetch_ohlcv_paginates_closed_candles_only(env):
    emu, ex = env
    since = int(emu.candles[0, 0])
    got = []
    while len(got) < 2000:
        page = await ex.fetch_ohlcv(SYM, "1m", since=since, limit=500)
        if not page:
            break
        got += page
        since = page[-1][0] + 60_000
    assert len(got) == 1440
    assert [r[0] for r in got] == emu.candles[:1440, 0].astype(int).tolist()
    await emu.advance(3)
    last = await ex.fetch_ohlcv(SYM, "1m", limit=2)
    assert last[-1][0] == int(emu.candles[1442, 0])


async def test_streams_deliver_orders_trades_positions_balance_klines(env):
    emu, ex = env
    w_orders = asyncio.ensure_future(ex.watch_orders(SYM))
    w_trades = asyncio.ensure_future(ex.watch_my_trades(SYM))
    w_pos = asyncio.ensure_future(ex.watch_positions([SYM]))
    w_bal = asyncio.ensure_future(ex.watch_balance())
    w_ohlcv = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
    await eventually(lambda: len(emu.conns) >= 2 and any(c.topics for c in emu.conns))
    await emu.wait_idle()
    buy = await ex.create_order(SYM, "limit", "buy", 0.2, 1999.0, {"positionSide": "LONG"})
    orders = await asyncio.wait_for(w_orders, W)
    assert orders[-1]["id"] == buy["id"] and orders[-1]["status"] == "open"
    if w_pos.done():  # resolved by the REST snapshot: watch the next update
        w_pos = asyncio.ensure_future(ex.watch_positions([SYM]))
        await emu.wait_idle()
    w_filled = asyncio.ensure_future(ex.watch_orders(SYM))
    emu.candles[1440, 3] = 1998.0
    await emu.advance(1)
    trades = await asyncio.wait_for(w_trades, W)
    assert trades[-1]["order"] == buy["id"] and trades[-1]["price"] == 1999.0
    assert trades[-1]["amount"] == 0.2
    positions = await asyncio.wait_for(w_pos, W)
    assert any(p["side"] == "long" and p["contracts"] == 0.2 for p in positions), positions
    want = pytest.approx(10_000.0 - 0.2 * 1999.0 * 0.0002)
    await watch_until(ex.watch_balance, lambda b: b["USDT"]["total"] == want,
                      first=await asyncio.wait_for(w_bal, W))
    candles = await asyncio.wait_for(w_ohlcv, W)
    assert candles[-1][0] == int(emu.candles[1440, 0])
    filled = await asyncio.wait_for(w_filled, W)
    assert filled[-1]["status"] == "closed"
