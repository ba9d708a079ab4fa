"""Fault injection, set per run by a test: what a flaky exchange does to its clients.

The server consults the injector on every HTTP request (errors, delays), every order (rejects)
and owns the websocket registry it drops. Each fault is counted down, so a test can say
"the next 3 requests answer 429" and then assert the client's retries.
"""

from __future__ import annotations

import asyncio

from dataclasses import dataclass, field
from typing import Awaitable, Callable


@dataclass
class FaultInjector:
    """Pending faults. Methods arm them; the server consumes them."""

    http_status: int = 0
    http_count: int = 0
    http_retry_after: float | None = None  # the wait a 418/429 fault names (http_errors)
    delay_s: float = 0.0
    delay_count: int = 0
    delay_only: str = ""  # delay only requests whose "METHOD /path" contains this
    reject_count: int = 0
    ws_refuse_count: int = 0  # websocket handshakes to refuse with 503
    # Hooks installed by the server: close every websocket / expire the listen key.
    _drop: Callable[[], Awaitable[int]] | None = None
    _expire: Callable[[bool], Awaitable[int]] | None = None
    _emu: object = None  # the Emulator (clock, limiter, websockets)
    log: list = field(default_factory=list)

    def http_errors(self, status: int = 429, count: int = 1,
                    retry_after: float | None = None) -> None:
        """Answer the next `count` HTTP requests with `status` (418, 429, 500, 502, 503, 504).

        `retry_after` (418/429 only): the seconds the answer tells the client to wait, where
        each venue says it: Binance a `Retry-After` header, Bybit (retCode 10006) an
        `X-Bapi-Limit-Reset-Timestamp` that many ms after the answer's `time`. None: Binance's
        `Retry-After: 1`, Bybit no reset time. Fractions are sent as given (the venues send
        whole seconds; a bench uses 1.5 s to stay short)."""
        if status not in (418, 429, 500, 502, 503, 504):
            raise ValueError(f"unsupported fault status {status}")
        if retry_after is not None and (status not in (418, 429) or not retry_after > 0):
            raise ValueError(f"retry_after must be > 0 and only with 418/429, got "
                             f"{retry_after} with {status}")
        self.http_status, self.http_count = status, count
        self.http_retry_after = retry_after

    def delay(self, seconds: float, count: int = 1, only: str = "") -> None:
        """Delay the next `count` HTTP responses by `seconds`: the request is executed at
        once, its answer held back (lost if the client times out first). `only`: just the requests whose
        "METHOD /path" contains it, e.g. "POST /fapi/v1/order" (a create's answer lost)."""
        self.delay_s, self.delay_count, self.delay_only = seconds, count, only

    def reject_orders(self, n: int = 1) -> None:
        """Reject the next `n` valid new orders as the exchange's matching engine would."""
        self.reject_count = n

    def drop_websockets(self) -> asyncio.Task:
        """Close every open websocket abruptly (as a network drop).

        Callable from sync code; returns a task to await for the count of closed sockets.
        """
        self.log.append("drop_websockets")
        return asyncio.get_running_loop().create_task(_call(self._drop))

    def expire_listen_key(self, silent: bool | None = None) -> asyncio.Task:
        """Binance: send `listenKeyExpired` on user streams and forget the keys. `silent`
        (default: in the realistic mode) leaves the socket open with nothing more sent on it,
        as Binance does; else it is closed after the event (the older emulator)."""
        self.log.append("expire_listen_key")
        if silent is None:
            silent = self._emu is not None and self._emu.realism.full
        hook = self._expire
        return asyncio.get_running_loop().create_task(
            _call(None if hook is None else (lambda: hook(silent))))

    def skew_clock(self, ms: int) -> None:
        """Move the server clocks by `ms` (-2000: the server is 2 s behind, so a client signing
        with its own clock is 2 s ahead: Binance -1021, Bybit 10002). 0 clears it."""
        self.log.append(f"skew_clock {ms}")
        self._emu.clock_check.skew_ms = int(ms)

    def exhaust_rate_limit(self, seconds: float = 60.0) -> None:
        """The request budget is used up by others on the same IP / UID: Binance for the rest
        of the current minute window (429 with Retry-After, then 418 bans for a client that
        keeps calling), Bybit every endpoint for `seconds` venue seconds (10006)."""
        self.log.append("exhaust_rate_limit")
        self._emu.limits_armed = True
        lim = self._emu.limiter
        lim.exhaust() if hasattr(lim, "retry_until") else lim.exhaust(seconds)

    def ip_ban(self, seconds: float | None = None) -> float:
        """Ban the IP now: Binance 418 (the next escalation step, or `seconds`), Bybit 403 for
        10 minutes (or `seconds`); venue seconds, scaled by the emulator's speed."""
        self.log.append("ip_ban")
        self._emu.limits_armed = True
        lim = self._emu.limiter
        return lim.ban(seconds) if seconds is not None else lim.ban()

    def clear_limits(self) -> None:
        """Lift bans and windows armed by the two faults above."""
        lim = self._emu.limiter
        lim.banned_until = 0.0
        if hasattr(lim, "retry_until"):
            lim.retry_until, lim.used = 0.0, 0
        else:
            lim.exhausted_until = 0.0

    def cut_connections(self) -> int:
        """Binance's 24 h cut, now: every websocket closed with a close frame."""
        self.log.append("cut_connections")
        emu = self._emu
        n = 0
        for c in list(emu.conns):
            c.closing = True
            c.close_after_send()
            n += 1
        return n

    # -- consumed by the server ----------------------------------------------------------
    def take_http_error(self) -> int:
        if self.http_count > 0:
            self.http_count -= 1
            return self.http_status
        return 0

    def take_delay(self, request: str = "") -> float:
        if self.delay_count > 0 and self.delay_only in request:
            self.delay_count -= 1
            return self.delay_s
        return 0.0

    def refuse_websockets(self, count: int) -> None:
        """Refuse the next `count` websocket handshakes with HTTP 503 (an outage)."""
        self.ws_refuse_count = count

    def take_ws_refusal(self) -> bool:
        if self.ws_refuse_count > 0:
            self.ws_refuse_count -= 1
            return True
        return False

    def take_reject(self) -> bool:
        if self.reject_count > 0:
            self.reject_count -= 1
            return True
        return False


async def _call(hook: Callable[[], Awaitable[int]] | None) -> int:
    return await hook() if hook is not None else 0
