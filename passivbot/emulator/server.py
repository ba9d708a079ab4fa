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
from typing import Sequence

import numpy as np
from aiohttp import WSMsgType, web

from passivbot.emulator import limits
from passivbot.emulator import path as mpath
from passivbot.emulator.core import Account
from passivbot.emulator.faults import FaultInjector
from passivbot.emulator.market_data import register_market_data
from passivbot.emulator.path import Realism, realism_of
from passivbot.emulator.perp import FundingClock
from passivbot.emulator.wallet import join, step_wallet
from passivbot.markets import DEFAULT_FEES, market_spec

ALLOWED_HOSTS = ("127.0.0.1", "localhost")


class _Stopped(Exception):
    """The emulator was stopped while a real-time candle was in progress."""


class WsConn:
    """One websocket client: a send queue drained by a writer task, plus its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse, emu: "Emulator", kind: str) -> None:
        self.ws, self.emu, self.kind = ws, emu, kind
        self.topics: set[str] = set()
        self.authed = False
        self.closing = False
        self.silent = False  # Binance listenKeyExpired: open, but nothing more is sent
        self.opened_ms = emu.account.now_ms()
        self.listen_key: str | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, obj: dict) -> None:
        if self.silent:
            return
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
    """A local exchange replaying `candles` for one symbol, or several on one account
    (see docs/emulator.md)."""

    def __init__(self, exchange: str, symbol: "str | Sequence[str]", candles,
                 start_index: int = 1440,
                 starting_balance: float = 10_000.0, maker_fee: float | None = None,
                 taker_fee: float | None = None, api_key: str | None = None,
                 api_secret: str | None = None, realism: Realism | str | None = None,
                 wall_clock: bool = False, funding=None, specs: dict | None = None) -> None:
        """`funding`: the symbol's funding events (a `data.perp.FundingSeries`, a (times,
        rates[, marks]) tuple or None: no funding), settled on the candle clock by the
        backtester's rule (`emulator.perp`) and served by the market-data routes.

        Several symbols on one account: `symbol` a list of symbols, `candles` a list of (n, 6)
        arrays on one minute axis (equal timestamps), `funding` None or a list (one entry per
        symbol); one wallet, cross margin (`emulator.wallet`). `specs`: {symbol: MarketSpec}
        for symbols whose spec is not bundled (served by the exchange-info routes)."""
        if exchange not in ("binance", "bybit"):
            raise ValueError(f"exchange must be 'binance' or 'bybit', not {exchange!r}")
        multi = not isinstance(symbol, str)
        symbols = list(symbol) if multi else [symbol]
        all_candles = [np.asarray(c, dtype=np.float64) for c in candles] if multi \
            else [np.asarray(candles, dtype=np.float64)]
        fundings = (list(funding) if funding is not None else [None] * len(symbols)) if multi \
            else [funding]
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be non-empty and unique, not {symbols}")
        if len(all_candles) != len(symbols) or len(fundings) != len(symbols):
            raise ValueError("one candles array (and one funding entry) per symbol")
        for c in all_candles:
            if c.ndim != 2 or c.shape[1] < 6 or not 0 < start_index < len(c):
                raise ValueError("candles must be (n, 6) and 0 < start_index < n")
        for sym, c in zip(symbols[1:], all_candles[1:]):
            if c.shape[0] != all_candles[0].shape[0] or (c[:, 0] != all_candles[0][:, 0]).any():
                raise ValueError(f"{sym}: the candles of all symbols must share one minute axis "
                                 f"(same timestamps as {symbols[0]}'s)")
        self.wall_clock = wall_clock
        clocks = [FundingClock.of(f) for f in fundings]
        if wall_clock:  # re-stamp (a copy) so that candle start_index opens this wall minute
            now_min = int(time.time() * 1000) // 60_000 * 60_000
            shift = now_min - int(all_candles[0][start_index, 0])
            all_candles = [c.copy() for c in all_candles]
            for c in all_candles:
                c[:, 0] += shift
            clocks = [None if k is None else FundingClock(k.times + shift, k.rates, k.marks)
                      for k in clocks]  # the funding events move with the candles
        fees = DEFAULT_FEES[exchange]
        self.symbols = symbols
        self.exchange, self.symbol, self.candles = exchange, symbols[0], all_candles[0]
        specs = dict(specs or {})
        for sym in symbols:
            if sym not in specs:
                specs[sym] = market_spec(exchange, sym)
        self.specs = specs
        self.spec = specs[symbols[0]]
        self.api_key, self.api_secret = api_key, api_secret
        self.starting_balance = float(starting_balance)
        self.out_of_candles = False  # the CLI's --at-end serve: the clock stopped for good
        self.accounts: dict[str, Account] = {}
        for sym, c, clock in zip(symbols, all_candles, clocks):
            acc = Account(specs[sym], c, start_index, float(starting_balance),
                          fees["maker_fee"] if maker_fee is None else maker_fee,
                          fees["taker_fee"] if taker_fee is None else taker_fee)
            if clock is not None:  # events before the first traded candle are not the account's
                clock.skip_through(c[start_index - 1, 0])
            acc.funding = clock
            self.accounts[sym] = acc
        self.account = self.accounts[symbols[0]]
        if multi:
            join(list(self.accounts.values()), float(starting_balance))
        self.wallet = self.account.wallet
        # each symbol's funding events as the market-data routes serve them (`funding`: the
        # first symbol's)
        self.fundings = {sym: None if k is None else k.column_stack()
                         for sym, k in zip(symbols, clocks)}
        self.realism = realism_of(realism)
        self.speed = 60.0  # scales bans and Retry-After (lockstep: as the CLI's default speed)
        self.max_conn_age_ms = 86_400_000 if (self.realism.full and exchange == "binance") \
            else None  # Binance cuts every websocket after 24 h
        self._setup_realism()
        self.faults = FaultInjector()
        self.limits_armed = False  # a rate-limit fault was armed (minute mode: limits off)
        self.clock_check = limits.ClockCheck(lambda: self.account.now_ms())
        self.limiter = (limits.BinanceLimiter(self.speed) if exchange == "binance"
                        else limits.BybitLimiter(self.speed, lambda: self.account.now_ms()))
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
        self.app.router.add_route("*", "/{tail:.*}", self._unknown)  # last: nothing else matched
        for acc in self.accounts.values():
            acc.listeners.append(self.ws.on_event)
        self.faults._drop = self._drop_all
        self.faults._emu = self

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

    @property
    def funding(self):
        """The first symbol's funding events as served (`fundings[symbol]`; settable: a test
        may serve events the account does not settle)."""
        return self.fundings[self.symbol]

    @funding.setter
    def funding(self, events) -> None:
        self.fundings[self.symbol] = events

    # -- the clock -------------------------------------------------------------------------
    def _setup_realism(self) -> None:
        r = self.realism
        self._spread = {}
        self._at_bid = {}
        for sym, acc in self.accounts.items():
            acc.realistic = r.full
            acc.partial_share = r.partial_share if (r.full and r.partial_fills) else 0.0
            acc.rng.seed(r.seed)
            self._spread[sym] = r.spread_ticks * acc.spec.price_step
            self._at_bid[sym] = True
            if r.full:  # the book around the last close before the first path point
                i = acc.clock - 1
                prev = float(acc.candles[i - 1, 4]) if i > 0 else float(acc.candles[i, 1])
                self._book_after(float(acc.candles[i, 4]), prev, acc=acc)

    def _book_after(self, price: float, prev: float, offset_ms: int = 0,
                    acc: Account | None = None) -> tuple:
        acc = acc or self.account
        sym = acc.spec.symbol
        bid, ask, self._at_bid[sym] = mpath.book_at(price, prev, self._at_bid[sym],
                                                    self._spread[sym], acc.spec.price_step)
        acc.set_tick(price, bid, ask, offset_ms)
        return bid, ask

    async def _candle(self, n_points: int, pause, lockstep: bool = False) -> list:
        """One candle of every symbol: the realistic mode's path points (each published for
        every symbol, then `await pause(k, t_ms)`), then the settlement of the wallet by the
        shared rules at the close."""
        acc = self.account
        i = acc.clock
        books = list(self.accounts.values())
        if self.realism.full and i < len(self.candles):
            times = mpath.point_times(n_points)
            paths = []
            for k, b in enumerate(books):  # symbol k > 0: its own seed, its own path
                paths.append(mpath.candle_path(b.candles[i], i, self.realism.seed + 7919 * k,
                                               n_points, b.spec.price_step))
            prev = [b.last_price for b in books]
            hilo = [[float(b.candles[i, 1])] * 2 for b in books]
            t_prev = -1
            for k in range(n_points - 1):  # the last point is the close: settled below
                for m, b in enumerate(books):
                    c = b.candles[i]
                    old = (b.bid, b.ask)
                    p = float(paths[m][k])
                    hilo[m] = [max(hilo[m][0], p), min(hilo[m][1], p)]
                    bid, ask = self._book_after(p, prev[m], int(times[k]), acc=b)
                    topics = mpath.due(self.exchange, t_prev, int(times[k]),
                                       p != prev[m] or k == 0, (bid, ask) != old or k == 0)
                    self.ws.on_event("tick", {"index": i, "price": p, "bid": bid, "ask": ask,
                                              "open": float(c[1]), "high": hilo[m][0],
                                              "low": hilo[m][1], "topics": topics, "acc": b})
                    prev[m] = p
                t_prev = int(times[k])
                await pause(k, int(times[k]))
            for m, b in enumerate(books):
                self._book_after(float(b.candles[i, 4]), prev[m], mpath.CANDLE_MS - 1, acc=b)
            fills = step_wallet(self.wallet)
            closes = []
            for b in books:
                c = b.candles[i]
                close = {"index": i, "price": float(c[4]), "bid": b.bid, "ask": b.ask,
                         "open": float(c[1]), "high": float(c[2]), "low": float(c[3]), "acc": b}
                closes.append(close)
                self.ws.on_event("tick", dict(close, topics={"bookticker", "orderbook"}))
            if lockstep:
                # The venues keep pushing tickers (Binance every second, Bybit every 100 ms),
                # so in real time a client busy when the close arrived reads the next push
                # within a second. In lockstep nothing follows until the next advance: once
                # the clients are idle, push the tickers and the top of book once more at the
                # same market time (a client whose book stream missed the close's update kept
                # a stale book for the whole minute: fault campaign, seeds 2 and 3).
                await self.wait_idle(0.002, 2.0)
                for close in closes:
                    self.ws.on_event("tick", dict(close, topics={"miniticker", "ticker",
                                                                 "tickers", "bookticker",
                                                                 "orderbook"}))
            return fills
        return step_wallet(self.wallet)

    async def advance(self, n: int = 1, idle_s: float | None = None) -> list:
        """Settle the next `n` candles (lockstep); returns the fills. Yields between candles.

        Realistic mode: each candle's path is published first, `realism.lockstep_points`
        points; with `idle_s` the emulator waits for clients to go idle after each point (a
        lockstep barrier inside the minute), else it only yields."""
        async def pause(k: int, t_ms: int) -> None:
            if idle_s is not None:
                await self.wait_idle(idle_s, 5.0)
            else:
                await asyncio.sleep(0)

        fills = []
        for _ in range(n):
            fills += await self._candle(self.realism.lockstep_points, pause, lockstep=True)
            self._cut_old_conns()
            await asyncio.sleep(0)
        return fills

    def set_speed(self, speed: float) -> None:
        """Emulated minutes per wall minute; scales rate-limit windows and bans."""
        self.speed = speed
        self.limiter.scale = 1.0 / speed

    def _cut_old_conns(self) -> int:
        """Close (with a close frame) every websocket open for max_conn_age_ms of market time."""
        if self.max_conn_age_ms is None:
            return 0
        now, n = self.account.now_ms(), 0
        for c in list(self.conns):
            if now - c.opened_ms >= self.max_conn_age_ms and not c.closing:
                c.closing = True
                c.silent = False
                c.close_after_send()
                n += 1
        self.counters["ws_cut_24h"] = self.counters.get("ws_cut_24h", 0) + n
        return n

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
        """Advance one candle every 60/speed seconds until stopped or out of candles.

        With `wall_clock` (constructor) the speed must be 1 and candle boundaries fall on the
        host clock's minutes: market time is wall time, for clients that run on their clock."""
        if self.wall_clock and speed != 1.0:
            raise ValueError("a wall-clock emulator runs at speed 1")
        done = 0
        n_points = mpath.wall_points(speed, self.realism.min_wall_step_s)
        candle_s = 60.0 / speed

        async def sleep_until(t: float) -> None:
            delay = t - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stopped.wait(), delay)
                except asyncio.TimeoutError:
                    # Python 3.11's wait_for can turn a cancellation that lands as its timeout
                    # fires into TimeoutError; Ctrl-C (asyncio.run cancels the main task) was
                    # then swallowed and the CLI kept serving (seen once in CI at speed 600)
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise asyncio.CancelledError from None
            if self._stopped.is_set():
                raise _Stopped

        self.set_speed(speed)
        t_start = time.monotonic()
        if self.wall_clock:  # the candle in progress opened at its (shifted) timestamp
            t_start -= (time.time() * 1000 - float(self.candles[self.clock, 0])) / 1000
        while not self._stopped.is_set() and self.clock < len(self.candles):
            if max_minutes is not None and done >= max_minutes:
                return
            t0 = t_start + done * candle_s
            try:
                if self.realism.full:
                    await sleep_until(t0 + candle_s / n_points)

                    async def pause(k: int, t_ms: int) -> None:
                        await sleep_until(t0 + candle_s * (k + 2) / n_points)

                    await self._candle(n_points, pause)
                else:
                    await sleep_until(t0 + candle_s)
                    await self.advance(1)
            except _Stopped:
                return
            self._cut_old_conns()
            done += 1

    # -- plumbing --------------------------------------------------------------------------
    def add_conn(self, ws: web.WebSocketResponse, kind: str) -> WsConn:
        conn = WsConn(ws, self, kind)
        self.conns.add(conn)
        self.counters["ws_connections"] += 1
        return conn

    async def serve_ws(self, request: web.Request, kind: str, on_message, on_open=None):
        """Run a websocket: `on_message(conn, data)` per JSON text message."""
        if self.faults.take_ws_refusal():  # an outage: the handshake fails
            self.counters["ws_refused"] = self.counters.get("ws_refused", 0) + 1
            return web.Response(status=503, text="Service Unavailable")
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

    async def _unknown(self, request: web.Request) -> web.Response:
        """A path this venue does not have: say which emulator this is, so a client of the
        other venue (or a wrong --exchange) reads a cause instead of a bare 404."""
        other = {"binance": ("bybit", ("/v5/",)),
                 "bybit": ("binance", ("/fapi/", "/sapi/", "/api/", "/ws", "/market/ws",
                                       "/public/ws", "/private/ws", "/stream"))}[self.exchange]
        if request.path.startswith(other[1]):
            msg = (f"this is a passivbot {self.exchange} emulator on 127.0.0.1:{self.port} and "
                   f"{request.method} {request.path} is a {other[0]} path: start the emulator "
                   f"with --exchange {other[0]}, or point a {self.exchange} client at it")
        else:
            msg = (f"this is a passivbot {self.exchange} emulator: {request.method} "
                   f"{request.path} is not an endpoint it serves (docs/emulator.md)")
        if self.exchange == "binance":
            body = {"code": -1000, "msg": msg}
        else:
            body = {"retCode": 10001, "retMsg": msg, "result": {}, "retExtInfo": {},
                    "time": self.account.now_ms()}
        return web.json_response(body, status=404)

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
            headers: dict = {}
            if status:
                response = self.rest.http_error(status)
            else:
                denied, headers = await self.rest.guard(request, f"{request.method} {name}")
                if denied is None:
                    denied = await self.rest.authorize(request)
                response = denied if denied is not None else await handler(request)
            response.headers.update(headers)
            if delay:  # the request is executed now, its answer held back (may be lost)
                await asyncio.sleep(delay)
            return response
        finally:
            self._inflight -= 1
            self._last_activity = time.monotonic()
