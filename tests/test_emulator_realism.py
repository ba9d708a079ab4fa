"""The realistic mode: a seeded path inside each candle consistent with its OHLC, a one-tick book,
streams at each venue's cadence, PostOnly checked against the book, partial fills whose final
state is the fill rule's."""

import asyncio
import json

import aiohttp
import ccxt
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from passivbot.emulator import Emulator
from passivbot.emulator import path as mpath
from passivbot.emulator.path import Realism
from harness.emulator import eventually, flat_candles
from passivbot.exchanges.ccxt_factory import create_exchange

SYM = "ETH/USDT:USDT"
W = 10.0
POS = {"binance": {"positionSide": "LONG"}, "bybit": {"positionIdx": 1}}


@settings(max_examples=200, deadline=None)
@given(o=st.integers(1000, 3000), up=st.integers(0, 500), down=st.integers(0, 500),
       c=st.floats(0, 1), n=st.integers(4, 600), seed=st.integers(0, 2**31),
       i=st.integers(0, 10**6))
def test_path_starts_at_open_ends_at_close_and_touches_high_and_low_exactly(o, up, down, c, n,
                                                                             seed, i):
    step = 0.01
    high, low = round((o + up) * step, 2), round((o - down) * step, 2)  # prices on the step
    close = round(low + c * (high - low), 2)
    candle = np.array([0.0, round(o * step, 2), high, low, close, 1.0])
    p = mpath.candle_path(candle, i, seed, n, step)
    assert len(p) == n and p[0] == candle[1] and p[-1] == close
    assert p.max() == high and p.min() == low
    assert np.allclose(np.round(p / step) * step, p)
    assert np.array_equal(p, mpath.candle_path(candle, i, seed, n, step))  # seeded


def test_book_is_one_tick_around_the_last_trade_on_the_side_it_traded():
    assert mpath.book_at(100.0, 100.5, False, 0.01, 0.01) == (100.0, 100.01, True)  # down: bid
    assert mpath.book_at(100.5, 100.0, True, 0.01, 0.01) == (100.49, 100.5, False)  # up: ask
    assert mpath.book_at(100.5, 100.5, True, 0.01, 0.01) == (100.5, 100.51, True)  # unchanged


def test_cadence_per_venue_within_one_candle_of_100ms_points():
    t = mpath.point_times(600)
    counts: dict = {}
    prev = -1
    for now in t:
        for ex in ("binance", "bybit"):
            for topic in mpath.due(ex, prev, int(now), False, False):
                counts[(ex, topic)] = counts.get((ex, topic), 0) + 1
        prev = int(now)
    assert counts[("binance", "kline")] == 240  # every 250 ms
    assert counts[("binance", "miniticker")] == 60  # every second
    assert counts[("bybit", "tickers")] == 600  # every 100 ms
    assert ("binance", "bookticker") not in counts  # real time: only on a change
    assert mpath.wall_points(60.0, 0.01) == 100 and mpath.wall_points(1.0, 0.01) == 600
    assert mpath.wall_points(1e6, 0.01) == 4


def test_realism_knobs_are_checked():
    for bad in ({"mode": "fast"}, {"lockstep_points": 3}, {"spread_ticks": 0},
                {"partial_share": 1.5}):
        with pytest.raises(ValueError):
            Realism(**bad)
    assert mpath.realism_of(None).full and not mpath.realism_of("minute").full


async def raw_ws(url: str, path: str, sub: dict, n: int, pred) -> list:
    """Subscribe on a raw websocket; collect up to `n` messages matching `pred`."""
    got = []
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url.replace("http", "ws") + path) as ws:
            await ws.send_str(json.dumps(sub))
            while len(got) < n:
                msg = json.loads((await asyncio.wait_for(ws.receive(), W)).data)
                if pred(msg):
                    got.append(msg)
    return got


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_streams_publish_in_progress_klines_and_a_book_inside_the_minute(exchange):
    c = flat_candles(20, 2000.0, 5.0)
    emu = Emulator(exchange, "ETHUSDT", c, start_index=5)
    url = await emu.start()
    try:
        if exchange == "binance":
            sub = {"method": "SUBSCRIBE", "params": ["ethusdt@kline_1m", "ethusdt@bookTicker"],
                   "id": 1}
            path, is_kline = "/market/ws/1", lambda m: m.get("e") == "kline"
            is_book = lambda m: m.get("e") == "bookTicker"  # noqa: E731
        else:
            sub = {"op": "subscribe", "args": ["kline.1.ETHUSDT", "orderbook.1.ETHUSDT"]}
            path, is_kline = "/v5/public/linear", lambda m: m.get("topic", "").startswith("kline")
            is_book = lambda m: m.get("topic", "").startswith("orderbook")  # noqa: E731
        task = asyncio.ensure_future(
            raw_ws(url, path, sub, 20, lambda m: is_kline(m) or is_book(m)))
        await eventually(lambda: any(c.topics for c in emu.conns))
        await emu.advance(2)
        msgs = await asyncio.wait_for(task, W)
    finally:
        await emu.stop()
    klines = [m for m in msgs if is_kline(m)]
    books = [m for m in msgs if is_book(m)]
    if exchange == "binance":
        open_ = [k["k"] for k in klines if not k["k"]["x"]]
        assert len(open_) >= 5 and any(k["k"]["x"] for k in klines)
        times = [k["E"] for k in klines]
        pairs = [(float(b["b"]), float(b["a"])) for b in books]
    else:
        open_ = [k["data"][0] for k in klines if not k["data"][0]["confirm"]]
        assert len(open_) >= 5 and any(k["data"][0]["confirm"] for k in klines)
        times = [k["ts"] for k in klines]
        pairs = [(float(b["data"]["b"][0][0]), float(b["data"]["a"][0][0])) for b in books]
    assert times == sorted(times) and len(set(times)) > 5  # server time moves inside a minute
    highs = {float(k["h"] if "h" in k else k["high"]) for k in open_}
    assert highs and all(2000.0 <= h <= 2005.0 for h in highs)  # the high so far, in range
    assert pairs and all(round(a - b, 2) == 0.01 for b, a in pairs)  # one tick apart


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_post_only_is_checked_against_the_best_opposite_price(exchange):
    emu = Emulator(exchange, "ETHUSDT", flat_candles(20, 2000.0, 5.0), start_index=5)
    url = await emu.start()
    ex = create_exchange(exchange, api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        await ex.set_position_mode(True, SYM)
        acc = emu.account
        bid, ask = acc.bid, acc.ask
        assert round(ask - bid, 2) == 0.01 and acc.last_price in (bid, ask)
        po = dict(POS[exchange], **({"timeInForce": "GTX"} if exchange == "binance"
                                    else {"postOnly": True}))
        ok = await ex.create_order(SYM, "limit", "buy", 0.1, bid, po)  # rests at the bid
        assert int(ok["id"]) in acc.open_orders
        if exchange == "binance":
            with pytest.raises(ccxt.OrderNotFillable):  # -5022
                await ex.create_order(SYM, "limit", "buy", 0.1, ask, po)
            assert emu.counters["orders_rejected"] == 1
        else:  # Bybit: accepted, then cancelled with EC_PostOnlyWillTakeLiquidity
            o = await ex.create_order(SYM, "limit", "buy", 0.1, ask, po)
            assert int(o["id"]) not in acc.open_orders
            row = emu.rest.order_json(acc.closed_orders[int(o["id"])])
            assert row["orderStatus"] == "Cancelled"
        assert len(acc.fills) == 0
    finally:
        await ex.close()
        await emu.stop()


async def test_bybit_post_only_cancel_is_pushed_with_its_reject_reason():
    emu = Emulator("bybit", "ETHUSDT", flat_candles(20, 2000.0, 5.0), start_index=5)
    url = await emu.start()
    ex = create_exchange("bybit", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        await ex.set_position_mode(True, SYM)
        watch = asyncio.ensure_future(ex.watch_orders(SYM))
        await eventually(lambda: any("order" in c.topics for c in emu.conns))
        await ex.create_order(SYM, "limit", "buy", 0.1, emu.account.ask,
                              {"positionIdx": 1, "postOnly": True})
        seen = []
        for _ in range(5):
            orders = await asyncio.wait_for(watch, W)
            seen += [o["info"] for o in orders]
            if any(i["orderStatus"] == "Cancelled" for i in seen):
                break
            watch = asyncio.ensure_future(ex.watch_orders(SYM))
        cancelled = [i for i in seen if i["orderStatus"] == "Cancelled"]
        assert cancelled and cancelled[0]["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    finally:
        await ex.close()
        await emu.stop()


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_partial_fills_arrive_in_parts_and_end_in_the_rules_state(exchange):
    c = flat_candles(20, 2000.0, 1.0)
    c[6, 3] = 1990.0  # candle 6 trades down through 1995
    emu = Emulator(exchange, "ETHUSDT", c, start_index=5, realism=Realism(partial_share=1.0))
    minute = Emulator(exchange, "ETHUSDT", c, start_index=5, realism="minute")
    url = await emu.start()
    ex = create_exchange(exchange, api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        await ex.set_position_mode(True, SYM)
        watch = asyncio.ensure_future(ex.watch_orders(SYM))
        await eventually(lambda: any(c.kind in ("user", "private") and
                                     (c.kind == "user" or "order" in c.topics) for c in emu.conns))
        sent = []  # what goes on the wire to the user stream
        for conn in emu.conns:
            if conn.kind in ("user", "private"):
                conn.send = (lambda f: lambda obj: (sent.append(obj), f(obj)))(conn.send)
        o = await ex.create_order(SYM, "limit", "buy", 0.5, 1995.0, POS[exchange])
        minute.account.hedge_mode = True
        minute.account.place(is_buy=True, qty=0.5, price=1995.0, position_side=1)
        await emu.advance(2)
        minute.account.step(), minute.account.step()
        final = None
        for _ in range(10):
            got = await asyncio.wait_for(watch, W)
            final = [(x["status"], x["filled"]) for x in got if x["id"] == o["id"]] or final
            if final and final[-1][0] == "closed":
                break
            watch = asyncio.ensure_future(ex.watch_orders(SYM))
        parts = [f for f in emu.account.fills if f["order_id"] == int(o["id"])]
        assert len(parts) >= 2 and sum(f["qty"] for f in parts) == pytest.approx(0.5)
        assert final[-1] == ("closed", 0.5)
        if exchange == "binance":
            wire = [(m["o"]["X"], float(m["o"]["l"]), float(m["o"]["z"])) for m in sent
                    if m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["x"] == "TRADE"]
            partial, done = "PARTIALLY_FILLED", "FILLED"
        else:
            wire = [(d["orderStatus"], float(d["cumExecQty"]) - prev, float(d["cumExecQty"]))
                    for m in sent if m.get("topic") == "order" for d in m["data"]
                    for prev in [0.0] if d["orderStatus"] != "New"]
            partial, done = "PartiallyFilled", "Filled"
        assert [w[0] for w in wire] == [partial] * (len(parts) - 1) + [done]
        assert wire[0][2] == pytest.approx(parts[0]["qty"]) and wire[-1][2] == pytest.approx(0.5)
        raw = emu.rest.order_json(emu.account.closed_orders[int(o["id"])])
        assert raw.get("status", raw.get("orderStatus")) in ("FILLED", "Filled")
        a, b = emu.account, minute.account
        assert a.balance == b.balance and a.positions[1].size == b.positions[1].size
        assert a.positions[1].price == b.positions[1].price
    finally:
        await ex.close()
        await emu.stop()


def test_partial_status_names_per_venue():
    from passivbot.emulator.bybit_rest import STATUS

    assert STATUS["PARTIALLY_FILLED"] == "PartiallyFilled"


async def test_run_realtime_publishes_the_path_at_the_scaled_cadence():
    emu = Emulator("bybit", "ETHUSDT", flat_candles(40, 2000.0, 5.0), start_index=5)
    url = await emu.start()
    try:
        sub = {"op": "subscribe", "args": ["tickers.ETHUSDT"]}
        task = asyncio.ensure_future(raw_ws(url, "/v5/public/linear", sub, 30,
                                            lambda m: m.get("topic") == "tickers.ETHUSDT"))
        await eventually(lambda: any(c.topics for c in emu.conns))
        run = asyncio.ensure_future(emu.run_realtime(speed=120.0, max_minutes=2))
        msgs = await asyncio.wait_for(task, W)
        await asyncio.wait_for(run, W)
    finally:
        await emu.stop()
    ts = [m["ts"] for m in msgs]
    assert ts == sorted(ts) and len(set(ts)) >= 20  # ~50 points a candle at speed 120


@settings(max_examples=60, deadline=None)
@given(qty_steps=st.integers(15, 400), price=st.integers(150_000, 250_000),
       pos_steps=st.integers(0, 400), seed=st.integers(0, 10_000), close=st.booleans())
def test_partial_executions_end_in_the_state_of_one_fill(qty_steps, price, pos_steps, seed,
                                                         close):
    """Core level, any order and position: 2-3 executions, summed, equal the one fill of the
    rule (qty, fee, pnl exactly up to float sums) and the final state is bit for bit the
    minute mode's."""
    c = flat_candles(10, 2000.0, 1.0)
    c[3, 2], c[3, 3] = 2600.0, 1400.0  # candle 3 trades through any order price used here
    accs = []
    for share in (1.0, 0.0):
        emu = Emulator("binance", "ETHUSDT", c, start_index=2,
                       realism=Realism(seed=seed, partial_share=share) if share else "minute")
        acc = emu.account
        acc.hedge_mode = True
        if pos_steps:
            acc.positions[1].size, acc.positions[1].price = pos_steps * 0.001, 1900.0
        off = round((price - 150_000) / 100_000 * 590, 2)  # resting, never crossing
        if close:
            r = acc.place(is_buy=False, qty=qty_steps * 0.001, price=round(2002.0 + off, 2),
                          position_side=1)
        else:
            r = acc.place(is_buy=True, qty=qty_steps * 0.001, price=round(1998.0 - off, 2),
                          position_side=1)
        if not hasattr(r, "id"):  # only a close without a position is refused
            assert close and pos_steps == 0, r
            return
        acc.step()
        acc.step()
        accs.append(acc)
    a, b = accs
    assert (a.balance, a.positions[1].size, a.positions[1].price) == \
        (b.balance, b.positions[1].size, b.positions[1].price)
    if b.fills:
        assert len(b.fills) == 1
        assert len(a.fills) >= (2 if b.fills[0]["qty"] >= 0.002 - 1e-12 else 1)
        assert sum(f["qty"] for f in a.fills) == pytest.approx(b.fills[0]["qty"], abs=1e-12)
        assert sum(f["fee"] for f in a.fills) == pytest.approx(b.fills[0]["fee"], abs=1e-9)
