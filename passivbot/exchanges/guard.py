"""What every request to one exchange shares: a rate-limit cool-down and the server clock.

Cool-down: when the exchange says "too many requests" (HTTP 429 / 418 with `Retry-After`,
Bybit `retCode 10006` with `X-Bapi-Limit-Reset-Timestamp`, Bybit HTTP 403 IP ban), no request
at all may be sent until the time it named has passed: retrying into a ban lengthens it
(Binance's 418 bans escalate for clients that keep calling). The guard sits at ccxt's transport
(`ex.fetch`, `ex.on_rest_response`), so every call waits - the bot's, a retry's, and ccxt's own
(listen-key keep-alives) - and the requests blocked wake the moment the cool-down ends.

Server clock: signed requests carry a timestamp the exchange checks against its clock
(`recvWindow`); ccxt signs with `milliseconds() - options['timeDifference']`, which
`load_time_difference()` measures. `call()` turns a refused timestamp (ccxt InvalidNonce:
Binance -1021, Bybit 10002) into a resync and a retry, and into a StopError with a clear
message when it persists after `max_resyncs` resyncs in a row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import ccxt

from passivbot.exchanges.adapter import Capabilities
from passivbot.exchanges.errors import StopError

T = TypeVar("T")


class CoolDown:
    """One pause shared by every request of a client (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.until = 0.0
        self.reason = ""
        self.holds = 0  # cool-downs started
        self.waited = 0  # requests that had to wait for one

    def hold(self, seconds: float, reason: str) -> bool:
        """Start (or extend) the cool-down; True if it was not already running that long."""
        until = self.clock() + max(0.0, seconds)
        if until <= self.until:
            return False
        self.until, self.reason = until, reason
        self.holds += 1
        return True

    def remaining(self) -> float:
        return max(0.0, self.until - self.clock())

    async def wait(self) -> None:
        """Return once no cool-down runs (it may be extended while we wait)."""
        if self.remaining() > 0:
            self.waited += 1
        for _ in range(10_000):
            left = self.remaining()
            if left <= 0:
                return
            await asyncio.sleep(left)


def _header(headers: dict | None, name: str) -> str | None:
    if not headers or not name:
        return None
    low = name.lower()
    for k, v in headers.items():
        if str(k).lower() == low:
            return str(v)
    return None


def cool_down_seconds(caps: Capabilities, status: int, headers: dict | None, body: str | None,
                      server_ms: float) -> float | None:
    """How long to send nothing after this response (None: not a rate-limit answer)."""
    limited = status in (418, 429)
    if status == 403 and caps.forbidden_ban_s > 0:
        # The venue documents the ban's length; a Retry-After, where one comes, says it exactly.
        after = _header(headers, caps.retry_after_header)
        try:
            return float(after) if after is not None else caps.forbidden_ban_s
        except ValueError:
            return caps.forbidden_ban_s
    if caps.rate_limit_body_code and body and caps.rate_limit_body_code in body:
        try:
            doc = json.loads(body)
            code = str(doc.get("retCode"))
            # The answer's own server time (Bybit v5 `time`) is what its reset timestamp is
            # relative to; our estimate of the server clock may be stale.
            server_ms = float(doc.get("time") or server_ms)
        except (ValueError, AttributeError, TypeError):
            code = ""
        limited = limited or code == caps.rate_limit_body_code
    if not limited:
        return None
    after = _header(headers, caps.retry_after_header)
    if after is not None:
        try:
            return float(after)
        except ValueError:
            pass
    reset = _header(headers, caps.limit_reset_header)
    if reset is not None:
        try:
            return max(0.0, (float(reset) - server_ms) / 1000.0)
        except ValueError:
            pass
    return caps.default_cool_down_s


class ExchangeGuard:
    """The cool-down and the time offset of one ccxt client (see the module docstring)."""

    def __init__(self, ex, caps: Capabilities, log: logging.Logger | None = None,
                 max_resyncs: int = 3) -> None:
        self.ex, self.caps = ex, caps
        self.log = log or logging.getLogger("passivbot.exchanges.guard")
        self.cool = CoolDown()
        self.max_resyncs = max_resyncs
        self.nonce_streak = 0  # InvalidNonce answers in a row, each followed by a resync
        self.resyncs = 0
        self.offset_ms = 0  # server time - local time, as ccxt signs with it
        self._install()

    # -- transport hooks -------------------------------------------------------------------
    def _install(self) -> None:
        ex = self.ex
        fetch, on_response = ex.fetch, ex.on_rest_response

        async def guarded_fetch(url, method="GET", headers=None, body=None):
            await self.cool.wait()
            return await fetch(url, method, headers, body)

        def observed(code, reason, url, method, response_headers, response_body,
                     request_headers, request_body):
            try:
                self.observe(int(code), response_headers, response_body)
            except Exception:  # noqa: BLE001 - an odd header must not break the request
                self.log.exception("rate-limit header not understood")
            return on_response(code, reason, url, method, response_headers, response_body,
                               request_headers, request_body)

        ex.fetch = guarded_fetch
        ex.on_rest_response = observed

    def observe(self, status: int, headers: dict | None, body: str | None) -> None:
        server_ms = time.time() * 1000 + self.offset_ms
        seconds = cool_down_seconds(self.caps, status, headers, body, server_ms)
        if seconds is not None and self.cool.hold(seconds, f"HTTP {status}"):
            self.log.warning("rate limited (HTTP %d): no request for %.1fs", status, seconds)

    # -- time ------------------------------------------------------------------------------
    async def sync_time(self) -> int:
        """Measure the server clock; ccxt signs with it from now on. Returns server - local ms."""
        diff = await self.ex.load_time_difference()  # local - server, ccxt's sign
        self.offset_ms = -int(diff)
        return self.offset_ms

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn()`; a refused timestamp resyncs the clock and tries again, at most
        `max_resyncs` times in a row (over all calls) before stopping the bot."""
        for _ in range(self.max_resyncs + 2):
            try:
                result = await fn()
            except ccxt.InvalidNonce as e:
                self.nonce_streak += 1
                if self.nonce_streak > self.max_resyncs:
                    raise StopError(
                        f"{self.caps.name} keeps refusing request timestamps after "
                        f"{self.max_resyncs} clock resyncs (server - local offset "
                        f"{self.offset_ms} ms): the system clock is unstable; fix it (NTP) and "
                        f"restart. Last answer: {type(e).__name__}") from None
                self.resyncs += 1
                self.log.warning("request timestamp refused (%s): resyncing the clock",
                                 type(e).__name__)
                await self.sync_time()
                continue
            self.nonce_streak = 0
            return result
        raise AssertionError("unreachable")
