"""Real ccxt bybit (async REST + pro websockets) trading the emulator on 127.0.0.1."""

import asyncio

import ccxt
import pytest

from passivbot.emulator import Emulator
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange

SYM = "ETH/USDT:USDT"
W = 10.0
ACK = {"acknowledged": True}


@pytest.fixture
async def env():
    c = flat_candles(3000, 2000.0, spread=1.0)
    emu = Emulator("bybit", "ETHUSDT", c, start_index=1440)
    url = await emu.start()
    ex = create_exchange("bybit", api_key="key", secret="secret", emulator=url,
                         rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    await asyncio.wait_for(ex.set_position_mode(True, SYM), W)
    yield emu, ex
    await ex.close()
    await emu.stop()


async def test_markets_listed_once_with_specs_balance_time_leverage(env):
    emu, ex = env
    assert [s for s in ex.symbols if s.startswith("ETH/")] == [SYM]
    m = ex.market(SYM)
    assert (m["precision"]["price"], m["precision"]["amount"]) == (0.01, 0.01)
    assert m["limits"]["cost"]["min"] == 5.0
    bal = await asyncio.wait_for(ex.fetch_balance(), W)
    assert bal["USDT"]["total"] == 10_000.0
    assert await ex.fetch_time() == int(emu.candles[1440, 0])
    await ex.set_leverage(10, SYM)
    assert emu.account.leverage == 10
    assert emu.account.hedge_mode


async def test_orders_rest_then_fill_at_their_price(env):
    emu, ex = env
    buy = await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0,
                                {"positionIdx": 1, "postOnly": True})
    assert [o["id"] for o in await ex.fetch_open_orders(SYM)] == [buy["id"]]
    emu.candles[1440, 3] = 1989.0
    await emu.advance(1)
    o = await ex.fetch_order(buy["id"], SYM, ACK)
    assert (o["status"], o["filled"], o["average"]) == ("closed", 0.1, 1990.0)
    pos = [p for p in await ex.fetch_positions([SYM]) if p["contracts"]]
    assert len(pos) == 1 and pos[0]["side"] == "long" and pos[0]["entryPrice"] == 1990.0
    close = await ex.create_order(SYM, "limit", "sell", 0.1, 2005.0,
                                  {"positionIdx": 1, "reduceOnly": True, "postOnly": True})
    emu.candles[1441, 2] = 2006.0
    await emu.advance(1)
    assert (await ex.fetch_order(close["id"], SYM, ACK))["status"] == "closed"
    assert emu.account.positions[1].size == 0.0
    assert emu.account.fills[-1]["pnl"] == pytest.approx(1.5)
    assert emu.account.balance == pytest.approx(10_000 + 1.5 - 0.0002 * 0.1 * (1990 + 2005))


async def test_crossing_post_only_is_accepted_then_cancelled_as_bybit_does(env):
    emu, ex = env
    o = await ex.create_order(SYM, "limit", "buy", 0.1, 2010.0,
                              {"positionIdx": 1, "postOnly": True})
    got = await ex.fetch_order(o["id"], SYM, ACK)
    assert got["status"] == "canceled" and got["filled"] == 0


@pytest.mark.parametrize("args,params,exc", [
    (("buy", 200.0, 1990.0), {"positionIdx": 1}, ccxt.InsufficientFunds),
    (("sell", 0.1, 2100.0), {"positionIdx": 1, "reduceOnly": True}, ccxt.InvalidOrder),
    (("buy", 0.1, 1990.0), {"positionIdx": 0}, ccxt.BadRequest),  # one-way idx in hedge mode
])
async def test_rejections_map_to_ccxt_exceptions(env, args, params, exc):
    emu, ex = env
    with pytest.raises(exc):
        await ex.create_order(SYM, "limit", *args, params)
    assert emu.counters["orders_rejected"] == 1


async def test_duplicate_link_id_and_unknown_cancel(env):
    emu, ex = env
    await ex.create_order(SYM, "limit", "buy", 0.1, 1990.0,
                          {"positionIdx": 1, "clientOrderId": "abc"})
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYM, "limit", "buy", 0.1, 1980.0,
                              {"positionIdx": 1, "clientOrderId": "abc"})
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order("123", SYM)


async def test_fetch_ohlcv_paginates_closed_candles_only(env):
    emu, ex = env
    since = int(emu.candles[0, 0])
    got = []
    for _ in range(10):
        page = await ex.fetch_ohlcv(SYM, "1m", since=since, limit=500)
        if not page:
            break
        got += page
        since = page[-1][0] + 60_000
    assert [r[0] for r in got] == emu.candles[:1440, 0].astype(int).tolist()
    await emu.advance(3)
    last = await ex.fetch_ohlcv(SYM, "1m", limit=2)
    assert [r[0] for r in last] == emu.candles[1441:1443, 0].astype(int).tolist()


async def test_streams_deliver_orders_trades_positions_balance_klines(env):
    emu, ex = env
    w_orders = asyncio.ensure_future(ex.watch_orders(SYM))
    w_ohlcv = asyncio.ensure_future(ex.watch_ohlcv(SYM, "1m"))
    await eventually(lambda: sum(bool(c.topics) for c in emu.conns) >= 2)
    await emu.wait_idle()
    buy = await ex.create_order(SYM, "limit", "buy", 0.2, 1999.0, {"positionIdx": 1})
    orders = await asyncio.wait_for(w_orders, W)
    assert orders[-1]["id"] == buy["id"] and orders[-1]["status"] == "open"
    await asyncio.wait_for(ex.watch_positions([SYM]), W)  # the first answer: REST snapshot
    w_trades = asyncio.ensure_future(ex.watch_my_trades(SYM))
    w_pos = asyncio.ensure_future(ex.watch_positions([SYM]))
    w_bal = asyncio.ensure_future(ex.watch_balance())
    w_filled = asyncio.ensure_future(ex.watch_orders(SYM))
    await eventually(lambda: sum("wallet" in c.topics or "execution" in c.topics
                                 or "position" in c.topics for c in emu.conns) >= 1)
    await emu.wait_idle()
    emu.candles[1440, 3] = 1998.0
    await emu.advance(1)
    trades = await asyncio.wait_for(w_trades, W)
    assert trades[-1]["order"] == buy["id"] and trades[-1]["price"] == 1999.0
    positions = await asyncio.wait_for(w_pos, W)
    assert any(p["side"] == "long" and p["contracts"] == 0.2 for p in positions), positions
    bal = await asyncio.wait_for(w_bal, W)
    # ccxt reads a unified account's equity: wallet (after the maker fee) + unrealized pnl
    want = 10_000.0 - 0.2 * 1999.0 * 0.0002 + 0.2 * (2000.0 - 1999.0)
    assert bal["USDT"]["total"] == pytest.approx(want)
    candles = await asyncio.wait_for(w_ohlcv, W)
    assert candles[-1][0] == int(emu.candles[1440, 0])
    filled = await asyncio.wait_for(w_filled, W)
    assert filled[-1]["status"] == "closed"
