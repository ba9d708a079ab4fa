"""The emulator server: an aiohttp app on 127.0.0.1 around one `Account`, with a candle clock.

Two ways to move time: `advance(n)` (lockstep, tests) and `run_realtime(speed)` (paper trading).
The protocol front-end (Binance or Bybit) registers its routes and turns account events into
stream messages; every websocket has a send queue so `wait_idle()` can tell when clients settled.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time

import numpy as np
from aiohttp import WSMsgType, web

from passivbot.emulator.core import Account
from passivbot.emulator.faults import FaultInjector
from passivbot.emulator.market_data import register_market_data
from passivbot.markets import DEFAULT_FEES, market_spec

ALLOWED_HOSTS = ("127.0.0.1", "localhost")


class WsConn:
    """One websocket client: a send queue drained by a writer task, plus its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse, emu: "Emulator", kind: str) -> None:
        self.ws, self.emu, self.kind = ws, emu, kind
        self.topics: set[str] = set()
        self.authed = False
        self.listen_key: str | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, obj: dict) -> None:
        self.queue.put_nowait(json.dumps(obj, separators=(",", ":")))

    async def _write(self) -> None:
        while True:
            msg = await self.queue.get()
            try:
                if msg is None:
                    await self.ws.close()
                    return
                await self.ws.send_str(msg)
                self.emu.counters["ws_messages"] += 1
            except (ConnectionError, RuntimeError):
                return
            finally:
                self.queue.task_done()

    def close_after_send(self) -> None:
        self.queue.put_nowait(None)

    @property
    def busy(self) -> bool:
        return not self.writer.done() and self.queue.qsize() > 0


class Emulator:
    """A local exchange replaying `candles` for one symbol (see docs/emulator.md)."""

    def __init__(self, exchange: str, symbol: str, candles: np.ndarray, start_index: int = 1440,
                 starting_balance: float = 10_000.0, maker_fee: float | None = None,
                 taker_fee: float | None = None, api_key: str | None = None,
                 api_secret: str | None = None) -> None:
        if exchange not in ("binance", "bybit"):
            raise ValueError(f"exchange must be 'binance' or 'bybit', not {exchange!r}")
        candles = np.asarray(candles, dtype=np.float64)
        if candles.ndim != 2 or candles.shape[1] < 6 or not 0 < start_index < len(candles):
            raise ValueError("candles must be (n, 6) and 0 < start_index < n")
        fees = DEFAULT_FEES[exchange]
        self.exchange, self.symbol, self.candles = exchange, symbol, candles
        self.spec = market_spec(exchange, symbol)
        self.api_key, self.api_secret = api_key, api_secret
        self.account = Account(
            self.spec, candles, start_index, float(starting_balance),
            fees["maker_fee"] if maker_fee is None else maker_fee,
            fees["taker_fee"] if taker_fee is None else taker_fee)
        self.faults = FaultInjector()
        self.counters: dict = {"requests": collections.Counter(), "orders_created": 0,
                               "orders_cancelled": 0, "orders_rejected": 0, "ws_messages": 0,
                               "ws_connections": 0}
        self.conns: set[WsConn] = set()
        self.port = 0
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._runner: web.AppRunner | None = None
        self._stopped = asyncio.Event()
        self.app = web.Application(middlewares=[self._middleware])
        if exchange == "binance":
            from passivbot.emulator.binance_rest import BinanceRest
            from passivbot.emulator.binance_ws import BinanceWs
            self.rest, self.ws = BinanceRest(self), BinanceWs(self)
        else:
            from passivbot.emulator.bybit_rest import BybitRest
            from passivbot.emulator.bybit_ws import BybitWs
            self.rest, self.ws = BybitRest(self), BybitWs(self)
        self.rest.register(self.app.router)
        register_market_data(self)
        self.ws.register(self.app.router)
        self.account.listeners.append(self.ws.on_event)
        self.faults._drop = self._drop_all

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def clock(self) -> int:
        return self.account.clock

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind (127.0.0.1 only) and serve; returns the base URL."""
        if host not in ALLOWED_HOSTS:
            raise ValueError(f"the emulator binds 127.0.0.1 only, not {host!r}")
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self._stopped.set()
        await self._drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the clock -------------------------------------------------------------------------
    async def advance(self, n: int = 1) -> list:
        """Settle the next `n` candles (lockstep); returns the fills. Yields between candles."""
        fills = []
        for _ in range(n):
            fills += self.account.step()
            await asyncio.sleep(0)
        return fills

    async def wait_idle(self, idle_s: float = 0.05, timeout: float = 5.0) -> bool:
        """Until no request is in flight and no stream message is queued for `idle_s`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self._inflight > 0 or any(c.busy for c in self.conns)
            if busy:
                self._last_activity = time.monotonic()
            elif time.monotonic() - self._last_activity >= idle_s:
                return True
            await asyncio.sleep(min(idle_s / 5, 0.01))
        return False

    async def run_realtime(self, speed: float = 60.0, max_minutes: int | None = None) -> None:
        """Advance one candle every 60/speed seconds until stopped or out of candles."""
        done = 0
        while not self._stopped.is_set() and self.clock < len(self.candles):
            if max_minutes is not None and done >= max_minutes:
                return
            try:
                await asyncio.wait_for(self._stopped.wait(), 60.0 / speed)
                return
            except asyncio.TimeoutError:
                pass
            await self.advance(1)
            done += 1

    # -- plumbing --------------------------------------------------------------------------
    def add_conn(self, ws: web.WebSocketResponse, kind: str) -> WsConn:
        conn = WsConn(ws, self, kind)
        self.conns.add(conn)
        self.counters["ws_connections"] += 1
        return conn

    async def serve_ws(self, request: web.Request, kind: str, on_message, on_open=None):
        """Run a websocket: `on_message(conn, data)` per JSON text message."""
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = self.add_conn(ws, kind)
        try:
            if on_open is not None:
                on_open(conn)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        continue
                    on_message(conn, data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.conns.discard(conn)
            conn.writer.cancel()
        return ws

    async def _drop_all(self) -> int:
        conns = list(self.conns)
        for c in conns:
            c.writer.cancel()
            transport = c.ws._req.transport if c.ws._req is not None else None
            if transport is not None:
                transport.close()  # abrupt, as a network drop (no close frame)
            else:
                await c.ws.close()
        self.conns.clear()
        return len(conns)

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        self._inflight += 1
        self._last_activity = time.monotonic()
        try:
            route = request.match_info.route.resource
            name = route.canonical if route is not None else request.path
            self.counters["requests"][f"{request.method} {name}"] += 1
            delay = self.faults.take_delay(f"{request.method} {name}")
            status = self.faults.take_http_error()
            if status:
                response = self.rest.http_error(status)
            else:
                denied = await self.rest.authorize(request)
                response = denied if denied is not None else await handler(request)
            if delay:  # the request is executed now, its answer held back (may be lost)
                await asyncio.sleep(delay)
            return response
        finally:
            self._inflight -= 1
            self._last_activity = time.monotonic()
