"""Orders per second the emulator accepts through real ccxt (create + cancel), stream events
per second it delivers to websocket clients, and lockstep minutes per second in the realistic
mode (each minute's path published to a client subscribed to every market topic).

Run: python3 bench/bench_emulator.py   (no arguments; a few seconds)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from passivbot.emulator import Emulator  # noqa: E402
from passivbot.emulator.path import Realism  # noqa: E402
from harness.emulator import flat_candles  # noqa: E402
from passivbot.exchanges.ccxt_factory import create_exchange  # noqa: E402

SYM = "ETH/USDT:USDT"
N_ORDERS = 300  # create+cancel pairs, sequential
N_CONCURRENT = 300  # creates in flight 20 at a time
N_EVENTS_ROUNDS = 40  # rounds of 50 new + 50 cancelled orders (100 user-stream events each)


async def orders_per_second(emu: Emulator, url: str) -> tuple[float, float]:
    ex = create_exchange("binance", api_key="k", secret="s", emulator=url, rate_limit=False)
    try:
        await ex.load_markets()
        await ex.set_position_mode(True)
        p = {"positionSide": "LONG", "timeInForce": "GTX"}
        t0 = time.perf_counter()
        for i in range(N_ORDERS):
            o = await ex.create_order(SYM, "limit", "buy", 0.02, 1900.0 - i * 0.01, p)
            await ex.cancel_order(o["id"], SYM)
        seq = 2 * N_ORDERS / (time.perf_counter() - t0)
        sem = asyncio.Semaphore(20)

        async def one(i: int) -> None:
            async with sem:
                await ex.create_order(SYM, "limit", "buy", 0.02, 1800.0 - i * 0.01, p)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(N_CONCURRENT)))
        conc = N_CONCURRENT / (time.perf_counter() - t0)
        emu.account.cancel_all()
        return seq, conc
    finally:
        await ex.close()


async def events_per_second(emu: Emulator, url: str) -> float:
    ws_url = url.replace("http", "ws")
    async with aiohttp.ClientSession() as s:
        async with s.post(url + "/fapi/v1/listenKey") as r:
            key = (await r.json())["listenKey"]
        async with s.ws_connect(f"{ws_url}/private/ws?listenKey={key}") as ws:
            await emu.wait_idle()
            want = N_EVENTS_ROUNDS * 100
            got = 0
            t0 = time.perf_counter()

            async def produce() -> None:
                for _ in range(N_EVENTS_ROUNDS):
                    for i in range(50):
                        emu.account.place(is_buy=True, qty=0.02, price=1700.0 - i * 0.01,
                                          position_side=1, post_only=True)
                    emu.account.cancel_all()
                    await asyncio.sleep(0)

            task = asyncio.ensure_future(produce())
            while got < want:
                msg = await asyncio.wait_for(ws.receive(), 10)
                if json.loads(msg.data).get("e") == "ORDER_TRADE_UPDATE":
                    got += 1
            await task
            return got / (time.perf_counter() - t0)


async def realistic_minutes_per_second(n: int = 300) -> tuple[float, float]:
    """(minutes/s, market messages per minute) advancing `n` candles in lockstep while one
    raw client reads kline, miniTicker, bookTicker and trade streams."""
    emu = Emulator("binance", "ETHUSDT", flat_candles(n + 10, 2000.0, 3.0), start_index=5)
    url = await emu.start()
    got = 0
    try:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(url.replace("http", "ws") + "/market/ws/1") as ws:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "id": 1, "params": [
                    "ethusdt@kline_1m", "ethusdt@miniTicker", "ethusdt@bookTicker",
                    "ethusdt@trade"]}))
                await ws.receive()

                async def read() -> None:
                    nonlocal got
                    async for _ in ws:
                        got += 1

                reader = asyncio.ensure_future(read())
                t0 = time.perf_counter()
                for _ in range(n):
                    await emu.advance(1)
                await emu.wait_idle(0.01)
                dt = time.perf_counter() - t0
                reader.cancel()
    finally:
        await emu.stop()
    return n / dt, got / n


async def main() -> None:
    # capacity, not the venue's limits: a client this fast would be refused (-1015)
    emu = Emulator("binance", "ETHUSDT", flat_candles(3000, 2000.0, 1.0), start_index=1440,
                   starting_balance=1e9, realism=Realism(rate_limits=False))
    url = await emu.start()
    try:
        seq, conc = await orders_per_second(emu, url)
        ev = await events_per_second(emu, url)
    finally:
        await emu.stop()
    mps, per_min = await realistic_minutes_per_second()
    print(f"orders_per_s_sequential: {seq:.0f} orders/s "
          "(create+cancel through ccxt; target >= 200)")
    print(f"orders_per_s_concurrent: {conc:.0f} orders/s (20 in flight; target >= 300)")
    print(f"events_per_s: {ev:.0f} events/s (user stream to one client; target >= 5000)")
    print(f"realistic_lockstep_minutes_per_s: {mps:.0f} minutes/s ({per_min:.0f} market "
          "messages a minute to one client; target >= 100)")


if __name__ == "__main__":
    asyncio.run(main())
