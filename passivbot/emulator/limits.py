"""What the venues answer to clients that sign with a wrong clock or call too often.

- Clock: a signed request's timestamp must lie in [server - recvWindow, server + 1000 ms]
  (Binance -1021, Bybit retCode 10002). The emulator has two clocks a client can sign with:
  the host's wall clock (what a client's local clock is, on 127.0.0.1) and the market clock
  (`/time`: candle time, which jumps in lockstep and runs at --speed in real time). A timestamp
  is accepted when it fits either, or the wall clock plus the offset `/time` last answered
  (a client applying the offset it measured: in lockstep the market clock jumps a minute per
  candle, so that offset would go stale at once, which a real venue's clock never does), so a
  client signing with its local clock and one signing with its measured offset both pass;
  `faults.skew_clock(ms)` moves every server clock, `/time` included (a client then is `-ms`
  ahead) until the client resyncs.
- Rate limits, in wall time scaled by the emulator's speed (a minute at speed 60 is a second):
  Binance counts request weight per minute window (2400; `X-MBX-USED-WEIGHT-1M` on every
  answer); over it, HTTP 429 with `Retry-After`; a client that keeps calling during a
  `Retry-After` is banned with HTTP 418, 2 minutes for the first ban, doubling for each later
  one (the venue documents 2 minutes to 3 days); new orders also count per account, 300 per
  10 s and 1200 per minute (`X-MBX-ORDER-COUNT-10S`, `-1M`; over them HTTP 429 -1015 without
  Retry-After). Bybit limits each endpoint per second
  (`X-Bapi-Limit`, `X-Bapi-Limit-Status`, `X-Bapi-Limit-Reset-Timestamp`; over it retCode
  10006) and the IP to 600 requests per 5 s; over that, HTTP 403 for 10 minutes.

Times inside this module are wall seconds (time.monotonic); `scale` = 1 / speed converts the
venues' durations.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

RECV_AHEAD_MS = 1000
BINANCE_WEIGHT_LIMIT = 2400
BINANCE_FIRST_BAN_S = 120.0
BINANCE_MAX_BAN_S = 3 * 86_400.0
STRIKES_BEFORE_BAN = 3  # requests inside a Retry-After before the 418
BINANCE_ORDERS_10S, BINANCE_ORDERS_1M = 300, 1200  # new orders per account (-1015 over them)
BYBIT_IP_LIMIT, BYBIT_IP_WINDOW_S, BYBIT_IP_BAN_S = 600, 5.0, 600.0
# Binance USDT-M request weights (docs: "Request Weight" of each endpoint); 1 when not listed.
BINANCE_WEIGHTS = {
    "GET /fapi/v1/exchangeInfo": 1, "GET /fapi/v2/account": 5, "GET /fapi/v3/account": 5,
    "GET /fapi/v2/balance": 5, "GET /fapi/v3/balance": 5, "GET /fapi/v2/positionRisk": 5,
    "GET /fapi/v3/positionRisk": 5, "GET /fapi/v1/allOrders": 5, "GET /fapi/v1/userTrades": 5,
    "GET /fapi/v1/depth": 2, "GET /fapi/v1/ticker/bookTicker": 2, "GET /fapi/v1/income": 30,
    "POST /fapi/v1/order": 0,  # orders count against the order limits, not IP weight
    "POST /fapi/v1/batchOrders": 5, "DELETE /fapi/v1/batchOrders": 1,
}
# New-order requests against the account's order-count limits: (count in the 10 s window,
# count in the minute). A batch of up to 5 counts 5 and 1 (docs: "Place Multiple Orders").
BINANCE_ORDER_COUNTS = {"POST /fapi/v1/order": (1, 1), "POST /fapi/v1/batchOrders": (5, 1)}
# Bybit v5 per-endpoint limits (requests per second; docs: "API Rate Limit Rules for VIPs").
BYBIT_LIMITS = {"/v5/order/create": 10, "/v5/order/cancel": 10, "/v5/order/cancel-all": 10,
                "/v5/order/realtime": 50, "/v5/order/history": 50, "/v5/position/list": 50,
                "/v5/execution/list": 50, "/v5/account/wallet-balance": 50,
                "/v5/position/set-leverage": 10, "/v5/position/switch-mode": 10,
                "/v5/order/create-batch": 10, "/v5/order/cancel-batch": 10}


def kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class ClockCheck:
    """The recvWindow rule against the emulator's clocks (see module)."""

    def __init__(self, market_ms) -> None:
        self.market_ms = market_ms  # callable: the market clock now (ms)
        self.skew_ms = 0
        # market - wall (ms) when the time endpoint last answered: a client that signs with the
        # offset it measured there signs with wall + this (lockstep's market clock jumps a
        # minute per candle, so the offset goes stale at once; on a real venue it holds).
        self.served_offset_ms: int | None = None

    def served(self) -> int:
        """The server time the time endpoint answers now (skew included); remembered."""
        market = self.market_ms()
        self.served_offset_ms = market - int(time.time() * 1000)
        return market + self.skew_ms

    def verdict(self, ts_ms: int, recv_window_ms: int) -> str:
        """"" (accepted), "ahead" or "behind" for a request signed at `ts_ms`."""
        wall = int(time.time() * 1000)
        servers = [wall + self.skew_ms, self.market_ms() + self.skew_ms]
        if self.served_offset_ms is not None:
            servers.append(wall + self.served_offset_ms + self.skew_ms)
        out = "behind"
        for s in servers:
            if s - recv_window_ms <= ts_ms <= s + RECV_AHEAD_MS:
                return ""
            if ts_ms > s + RECV_AHEAD_MS:
                out = "ahead"
        return out


class BinanceLimiter:
    """Request weight per minute window, 429 + Retry-After, escalating 418 bans."""

    def __init__(self, speed: float) -> None:
        self.scale = 1.0 / speed
        self.used = 0
        self.window_start = time.monotonic()
        self.retry_until = 0.0  # a 429's Retry-After runs until then
        self.banned_until = 0.0  # a 418 ban
        self.strikes = 0
        self.bans = 0
        # (monotonic time, 10 s count, 1 min count) of new-order requests in the last minute
        self.orders: list[tuple[float, int, int]] = []
        self.log: list[tuple[float, int]] = []  # (monotonic, status) of refused requests

    @property
    def window_s(self) -> float:
        return 60.0 * self.scale

    def _roll(self, now: float) -> None:
        if now >= self.window_start + self.window_s:
            n = math.floor((now - self.window_start) / self.window_s)
            self.window_start += n * self.window_s
            self.used = 0

    def exhaust(self) -> None:
        """Fault: the window's weight is used up (other clients on the same IP)."""
        self._roll(time.monotonic())
        self.used = BINANCE_WEIGHT_LIMIT

    def ban(self, seconds: float | None = None) -> float:
        """A 418 ban (next escalation step unless `seconds` given, in venue seconds)."""
        s = seconds if seconds is not None else min(BINANCE_FIRST_BAN_S * 2 ** self.bans,
                                                   BINANCE_MAX_BAN_S)
        self.bans += 1
        self.strikes = 0
        self.banned_until = time.monotonic() + s * self.scale
        return s

    def refusing(self, now: float) -> bool:
        """True while a request now is refused whatever its weight: a ban, a Retry-After, or
        the window's weight used up."""
        self._roll(now)
        return (now < self.banned_until or now < self.retry_until
                or self.used >= BINANCE_WEIGHT_LIMIT)

    def check(self, name: str, weight: int) -> tuple[int, float, dict]:
        """(status 0 / 429 / 418, Retry-After wall seconds, headers) for one request."""
        now = time.monotonic()
        self._roll(now)
        if now < self.banned_until:
            self.log.append((now, 418))
            return 418, self.banned_until - now, {}
        if now < self.retry_until:
            self.strikes += 1
            if self.strikes >= STRIKES_BEFORE_BAN:
                self.ban()
                self.log.append((now, 418))
                return 418, self.banned_until - now, {}
            self.log.append((now, 429))
            return 429, self.retry_until - now, {}
        if self.used + weight > BINANCE_WEIGHT_LIMIT:
            self.retry_until = self.window_start + self.window_s
            self.strikes = 0
            self.log.append((now, 429))
            return 429, self.retry_until - now, {}
        self.used += weight
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.used)}
        if name in BINANCE_ORDER_COUNTS:  # the account's order-count limits
            c10, c1m = BINANCE_ORDER_COUNTS[name]
            self.orders = [o for o in self.orders if o[0] > now - 60.0 * self.scale]
            n10 = sum(o[1] for o in self.orders if o[0] > now - 10.0 * self.scale)
            n1m = sum(o[2] for o in self.orders)
            if n10 + c10 > BINANCE_ORDERS_10S or n1m + c1m > BINANCE_ORDERS_1M:
                self.log.append((now, -1015))
                return -1015, 0.0, headers
            self.orders.append((now, c10, c1m))
            headers.update({"X-MBX-ORDER-COUNT-10S": str(n10 + c10),
                            "X-MBX-ORDER-COUNT-1M": str(n1m + c1m)})
        return 0, 0.0, headers


class BybitLimiter:
    """Per-endpoint limits per second (10006 with X-Bapi-Limit* headers), the IP limit (403)."""

    def __init__(self, speed: float, market_ms) -> None:
        self.scale = 1.0 / speed
        self.market_ms = market_ms
        self.counts: dict = defaultdict(lambda: [0.0, 0])  # path -> [window start, count]
        self.ip: list[float] = []  # request times in the IP window
        self.banned_until = 0.0
        self.exhausted_until = 0.0
        self.log: list[tuple[float, int]] = []

    def exhaust(self, seconds: float = 1.0) -> None:
        """Fault: every endpoint's limit is used up for `seconds` (venue seconds)."""
        self.exhausted_until = time.monotonic() + seconds * self.scale

    def ban(self, seconds: float = BYBIT_IP_BAN_S) -> float:
        self.banned_until = time.monotonic() + seconds * self.scale
        return seconds

    def refusing(self, now: float) -> bool:
        """True while the IP ban or an exhausted-limits fault refuses requests."""
        return now < self.banned_until or now < self.exhausted_until

    def check(self, path: str) -> tuple[int, float, dict]:
        """(0 / 10006 / 403, wall seconds until allowed, headers) for one request."""
        now = time.monotonic()
        if now < self.banned_until:
            self.log.append((now, 403))
            return 403, self.banned_until - now, {}
        win = BYBIT_IP_WINDOW_S * self.scale
        self.ip = [t for t in self.ip if t > now - win]
        self.ip.append(now)
        if len(self.ip) > BYBIT_IP_LIMIT:
            self.ban()
            self.log.append((now, 403))
            return 403, self.banned_until - now, {}
        limit = BYBIT_LIMITS.get(path)
        if limit is None:
            return 0, 0.0, {}
        slot = self.counts[path]
        if now >= slot[0] + self.scale:
            slot[0], slot[1] = now, 0
        reset_wall = max(slot[0] + self.scale, self.exhausted_until)
        # Market time now + the wall time left, as Retry-After is wall seconds: a client reading
        # it against the answer's `time` waits what the (speed-scaled) limiter needs.
        reset_ms = self.market_ms() + int(max(reset_wall - now, 0.0) * 1000)
        used = slot[1] + 1 if now >= self.exhausted_until else limit + 1
        headers = {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(limit - used, 0)),
                   "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}
        if used > limit:
            self.log.append((now, 10006))
            return 10006, reset_wall - now, headers
        slot[1] = used
        return 0, 0.0, headers


def retry_after(seconds: float) -> str:
    """The Retry-After header: whole seconds, at least 1 (HTTP delay-seconds)."""
    return str(max(1, math.ceil(seconds)))
