"""Several symbols on one emulated account: one wallet, cross margin, symbol routing (REST and
streams) on both venues, the multi-symbol minute (passivbot.emulator.wallet)."""

import asyncio
import contextlib
import json
import time

import aiohttp
import numpy as np
import pytest

from harness.emulator import eventually, flat_candles
from passivbot.emulator import Emulator
from passivbot.emulator.wallet import step_wallet
from passivbot.exchanges.ccxt_factory import create_exchange
from passivbot.records import KIND_LIQUIDATION, LONG, SHORT

W = 10.0
ETH, BTC = "ETH/USDT:USDT", "BTC/USDT:USDT"


def two(n=60, eth=2000.0, btc=50_000.0):
    return [flat_candles(n, eth, spread=1.0), flat_candles(n, btc, spread=10.0)]


@contextlib.asynccontextmanager
async def served(exchange: str, realism: str = "minute"):
    """ETHUSDT and BTCUSDT on one emulated account, served on 127.0.0.1 until the test ends."""
    emu = Emulator(exchange, ["ETHUSDT", "BTCUSDT"], two(), start_index=5, realism=realism)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture(params=["binance", "bybit"])
async def env(request):
    emu = Emulator(request.param, ["ETHUSDT", "BTCUSDT"], two(), start_index=5,
                   starting_balance=10_000.0, realism="minute")
    url = await emu.start()
    ex = create_exchange(request.param, api_key="key", secret="secret", emulator=url,
                         rate_limit=False)
    await asyncio.wait_for(ex.load_markets(), W)
    # Binance's position mode is the account's (a second call answers -4059 "No need to
    # change"), Bybit's is set per symbol
    for sym in (ETH,) if request.param == "binance" else (ETH, BTC):
        await asyncio.wait_for(ex.set_position_mode(True, sym), W)
    yield emu, ex
    await ex.close()
    await emu.stop()


async def test_orders_route_to_their_symbols_book_one_balance(env):
    emu, ex = env
    eth, btc = emu.accounts["ETHUSDT"], emu.accounts["BTCUSDT"]
    assert eth.hedge_mode and btc.hedge_mode
    p = {"positionSide": "LONG"} if emu.exchange == "binance" else {"positionIdx": 1}
    await ex.create_order(ETH, "limit", "buy", 0.1, 1990.0, dict(p))
    await ex.create_order(BTC, "limit", "buy", 0.01, 49_980.0, dict(p))
    assert [o.price for o in eth.open_orders.values()] == [1990.0]
    assert [o.price for o in btc.open_orders.values()] == [49_980.0]
    mine = await ex.fetch_open_orders(BTC)
    assert [(o["symbol"], o["price"]) for o in mine] == [(BTC, 49_980.0)]
    # both fill in the next minute (the lows dip below both prices)
    for b, px in ((eth, 1985.0), (btc, 49_900.0)):
        b.candles[5, 3] = px
    fills = await emu.advance(1)
    assert [f["side"] for f in fills] == [LONG, LONG]
    fee = 0.1 * 1990.0 * eth.maker_fee + 0.01 * 49_980.0 * btc.maker_fee
    assert eth.balance == btc.balance == pytest.approx(10_000.0 - fee)
    # the account's unrealized pnl, from either symbol: 0.1 x (2000 - 1990) + 0.01 x (50000 -
    # 49980)
    assert eth.own_upnl() == pytest.approx(1.0) and btc.own_upnl() == pytest.approx(0.2)
    assert eth.upnl() == btc.upnl() == pytest.approx(1.2)
    # ccxt's total: Binance's margin balance (wallet + every symbol's unrealized pnl), Bybit's
    # wallet balance
    bal = await ex.fetch_balance()
    upnl = 1.2 if emu.exchange == "binance" else 0.0
    assert bal["USDT"]["total"] == pytest.approx(10_000.0 - fee + upnl)
    rows = await ex.fetch_positions(None, {} if emu.exchange == "binance" else
                                    {"settleCoin": "USDT"})
    pos = {p["symbol"]: p["contracts"] for p in rows if p["contracts"]}
    assert pos == {ETH: 0.1, BTC: 0.01}


async def test_unknown_symbol_is_refused(env):
    emu, ex = env
    if emu.exchange == "binance":
        url = f"http://127.0.0.1:{emu.port}/fapi/v1/klines?symbol=SOLUSDT&interval=1m"
    else:
        url = f"http://127.0.0.1:{emu.port}/v5/market/kline?category=linear&symbol=SOLUSDT" \
              "&interval=1"
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        body = await r.json()
    if emu.exchange == "binance":
        assert body["code"] == -1121  # Invalid symbol.
    else:
        assert body["retCode"] == 10001


async def test_klines_are_each_symbols_own(env):
    emu, ex = env
    await emu.advance(2)
    e = await ex.fetch_ohlcv(ETH, "1m", limit=3)
    b = await ex.fetch_ohlcv(BTC, "1m", limit=3)
    assert {r[4] for r in e} == {2000.0} and {r[4] for r in b} == {50_000.0}


def test_cross_margin_entry_refused_for_the_other_symbols_position():
    """A resting BTC entry that fits alone is refused at the fill: the ETH position's initial
    margin takes the wallet (the backtest's account-wide rule)."""
    emu = Emulator("binance", ["ETHUSDT", "BTCUSDT"], two(), start_index=5,
                   starting_balance=1_000.0, realism="minute")
    eth, btc = emu.accounts["ETHUSDT"], emu.accounts["BTCUSDT"]
    for b in (eth, btc):
        b.hedge_mode = True
        b.leverage = 5
    # ETH long 2 @ 2000 = 4000 notional, 800 margin at leverage 5: 200 left of 1000
    assert not isinstance(eth.place(is_buy=True, qty=2.0, price=1999.0, position_side=LONG), str)
    eth.candles[5, 3] = 1990.0
    btc.candles[5, 3] = 49_000.0
    btc_order = btc.place(is_buy=True, qty=0.03, price=49_500.0, position_side=LONG)
    assert btc_order.status == "NEW"  # 1485 notional, 297 margin: placed while ETH was flat
    alone = Emulator("binance", "BTCUSDT", two()[1], start_index=5, starting_balance=1_000.0,
                     realism="minute").account
    assert alone.entry_fits(0.03, 49_500.0, 50_000.0)
    fills = step_wallet(emu.wallet)
    assert [(f["side"], f["qty"]) for f in fills] == [(LONG, 2.0)]
    assert btc.margin_refused == 1 and btc.positions[LONG].size == 0.0


def test_cross_liquidation_takes_the_whole_account():
    emu = Emulator("bybit", ["ETHUSDT", "BTCUSDT"], two(), start_index=5,
                   starting_balance=1_000.0, realism="minute")
    eth, btc = emu.accounts["ETHUSDT"], emu.accounts["BTCUSDT"]
    eth.positions[LONG].size, eth.positions[LONG].price = 2.0, 2000.0
    btc.positions[SHORT].size, btc.positions[SHORT].price = 0.1, 50_000.0
    # ETH falls 10 % (-400) while BTC rises 12 % (-600): equity <= maintenance margin
    eth.candles[5, 3] = 1800.0
    btc.candles[5, 2] = 56_000.0
    fills = step_wallet(emu.wallet)
    assert [f["side"] for f in fills] == [LONG, SHORT]  # symbol order: ETH, then BTC
    assert all(f["kind"] == KIND_LIQUIDATION and f["taker"] for f in fills)
    assert [f["price"] for f in fills] == [1800.0, 56_000.0]  # each at its worst extreme
    assert emu.wallet.balance == 0.0
    assert eth.positions[LONG].size == 0.0 and btc.positions[SHORT].size == 0.0
    assert eth.clock == btc.clock == 6


def test_candles_must_share_one_minute_axis():
    c = two()
    c[1][:, 0] += 60_000
    with pytest.raises(ValueError, match="one minute axis"):
        Emulator("binance", ["ETHUSDT", "BTCUSDT"], c, start_index=5)


async def test_binance_combined_stream_carries_every_symbol():
    async with served("binance") as emu:
        async with aiohttp.ClientSession() as s, s.ws_connect(
                f"http://127.0.0.1:{emu.port}/stream?streams=ethusdt@kline_1m/btcusdt@kline_1m"
        ) as ws:
            await eventually(lambda: any(c.topics for c in emu.conns), W)
            await emu.advance(1)
            got = {}
            for _ in range(2):
                msg = json.loads((await asyncio.wait_for(ws.receive(), W)).data)
                got[msg["stream"]] = msg["data"]["k"]["c"]
        assert got == {"ethusdt@kline_1m": "2000", "btcusdt@kline_1m": "50000"}
        assert emu.counters["ws_connections"] == 1


async def test_bybit_one_public_socket_subscribes_several_topics():
    async with served("bybit") as emu:
        async with aiohttp.ClientSession() as s, s.ws_connect(
                f"http://127.0.0.1:{emu.port}/v5/public/linear") as ws:
            await ws.send_str(json.dumps({"op": "subscribe",
                                          "args": ["kline.1.ETHUSDT", "kline.1.BTCUSDT"]}))
            ack = json.loads((await asyncio.wait_for(ws.receive(), W)).data)
            assert ack["success"]
            await emu.advance(1)
            got, deadline = {}, time.monotonic() + W
            while len(got) < 2 and time.monotonic() < deadline:  # other topics may come first
                msg = json.loads((await asyncio.wait_for(ws.receive(), W)).data)
                if msg.get("topic", "").startswith("kline"):
                    got[msg["topic"]] = msg["data"][0]["close"]
        assert got == {"kline.1.ETHUSDT": "2000", "kline.1.BTCUSDT": "50000"}


async def test_realistic_mode_paths_every_symbol_and_settles_both():
    async with served("binance", realism="full") as emu:
        eth, btc = emu.accounts["ETHUSDT"], emu.accounts["BTCUSDT"]
        await emu.advance(1)
        assert eth.clock == btc.clock == 6
        assert 1999.0 <= eth.last_price <= 2001.0 and 49_990.0 <= btc.last_price <= 50_010.0
        for b in (eth, btc):  # each symbol's own one-step book around its last trade
            assert np.isclose(b.ask - b.bid, b.spec.price_step) and b.bid <= b.last_price <= b.ask


def test_cli_serves_several_symbols_and_refuses_bad_ones():
    import subprocess
    import sys

    def run(*a):
        return subprocess.run([sys.executable, "-m", "passivbot.emulator", "--port", "0",
                               "--realism", "minute", *a], capture_output=True, text=True,
                              timeout=120)

    ok = run("--symbol", "ETHUSDT", "BTCUSDT", "--speed", "6000", "--start-index", "73130",
             "--funding", "off")
    assert ok.returncode == 0, ok.stderr
    assert "emulator for ETHUSDT, BTCUSDT" in ok.stdout and "BTCUSDT long 0" in ok.stdout
    for args, words in ((("--symbol", "ETHUSDT", "ETHUSDT"), "listed twice"),
                        (("--symbol", "ETHUSDT", "FOOUSDT"), "FOOUSDT"),
                        (("--symbol", "ETHUSDT", "BTCUSDT", "--candles", "x.csv"), "--candles")):
        bad = run(*args)
        assert bad.returncode == 2 and words in bad.stderr and "Traceback" not in bad.stderr


async def test_binance_combined_endpoint_wraps_subscribed_streams_too():
    async with served("binance") as emu:
        async with aiohttp.ClientSession() as s, s.ws_connect(
                f"http://127.0.0.1:{emu.port}/stream") as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"],
                                          "id": 1}))
            assert json.loads((await asyncio.wait_for(ws.receive(), W)).data) == \
                {"result": None, "id": 1}
            await emu.advance(1)
            msg = json.loads((await asyncio.wait_for(ws.receive(), W)).data)
        assert msg["stream"] == "btcusdt@kline_1m" and msg["data"]["s"] == "BTCUSDT"


def test_align_candles_keeps_the_common_minutes_and_fills_a_missing_one_flat():
    """`wallet.align_candles`: the minutes every symbol covers; a minute missing from one
    symbol's data is a flat candle at its previous close with volume 0."""
    from passivbot.emulator.wallet import align_candles

    a = flat_candles(6, 100.0, spread=1.0)
    a[:, 4] = 100.0 + np.arange(6)  # closes 100..105
    b = flat_candles(5, 200.0, spread=2.0, t0=int(a[1, 0]))  # starts a minute later
    b = np.delete(b, 2, axis=0)  # its minute a[3] is missing
    al_a, al_b = align_candles([a, b])
    assert list(al_a[:, 0]) == list(a[1:6, 0]) == list(al_b[:, 0])
    assert np.array_equal(al_a, a[1:6])
    assert list(al_b[2]) == [a[3, 0], 200.0, 200.0, 200.0, 200.0, 0.0]  # flat, no volume
    assert list(al_b[3, 1:]) == [200.0, 202.0, 198.0, 200.0, 1.0]
    with pytest.raises(ValueError, match="do not overlap"):
        align_candles([a[:2], flat_candles(3, 1.0, t0=int(a[-1, 0]) + 60_000)])
