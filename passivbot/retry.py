"""The one retry helper: exponential backoff with jitter, for every exchange call that may fail
for a transient reason (timeouts, 429 rate limits, 5xx, dropped connections).

Used by the candle downloader and the live bot alike, so "how hard do we retry" is decided in
one place. Only errors that mean "try again later" are retried; anything else (bad symbol,
insufficient margin, auth) propagates at once, because retrying it cannot help.

`Backoff` is the same schedule for loops that count failures themselves (a stream reconnecting,
a cycle whose orders keep being rejected); it never overflows, however long the streak.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import ccxt

T = TypeVar("T")

# ccxt's transient errors: NetworkError is the parent of the others; they are listed so the
# intent reads at the call site (ccxt maps HTTP 429/418 to RateLimitExceeded/DDoSProtection,
# 500/502/503 to ExchangeNotAvailable, 504 and client timeouts to RequestTimeout).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ccxt.NetworkError,
    ccxt.RequestTimeout,
    ccxt.RateLimitExceeded,
    ccxt.DDoSProtection,
    ccxt.ExchangeNotAvailable,
)

# 2**63 is far past any cap: the exponent is clamped here so a streak of any length is a
# finite float (2.0 ** 1025 raises OverflowError).
_MAX_EXPONENT = 63


def backoff_delay(attempt: int, base_delay: float, max_delay: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number `attempt` (1-based): base * 2**(attempt-1), capped at
    max_delay, then "equal jitter" (uniform in [d/2, d]) so many clients that failed together
    do not retry together, while still waiting at least half the backoff. Any attempt number
    (even millions) gives a finite delay <= max_delay."""
    exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
    d = min(max_delay, base_delay * (2.0 ** exponent))
    return d * (0.5 + 0.5 * rand())


class Backoff:
    """A failure streak and its next delay: `fail()` after each failure, `reset()` after a
    success. Bounded delays for an unbounded streak (a bot may fail for days)."""

    def __init__(self, base_delay: float, max_delay: float,
                 rand: Callable[[], float] = random.random) -> None:
        self.base_delay, self.max_delay, self.rand = base_delay, max_delay, rand
        self.streak = 0

    def fail(self) -> float:
        """Count a failure; the delay to wait before the next try, seconds."""
        self.streak += 1
        return backoff_delay(self.streak, self.base_delay, self.max_delay, self.rand)

    def reset(self) -> None:
        self.streak = 0


async def retry_async(fn: Callable[[], Awaitable[T]], *, attempts: int, base_delay: float,
                      max_delay: float,
                      retry_on: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
                      on_retry: Callable[[int, BaseException, float], None] | None = None,
                      sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> T:
    """Await `fn()` up to `attempts` times; retry only on `retry_on` exceptions.

    on_retry(attempt, error, delay) is called before each wait (attempt = the failed try,
    1-based), e.g. to log or count. After the last attempt the last error is raised unchanged.
    `sleep` is injectable so tests can check delays without waiting.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, not {attempts}")
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except retry_on as e:
            if attempt == attempts:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay)
            if on_retry is not None:
                on_retry(attempt, e, delay)
            await sleep(delay)
    raise AssertionError("unreachable")
