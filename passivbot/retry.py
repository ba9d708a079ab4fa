"""The one retry helper: exponential backoff with jitter, for every exchange call that may fail
for a transient reason (timeouts, 429 rate limits, 5xx, dropped connections).

Used by the candle downloader and the live bot alike, so "how hard do we retry" is decided in
one place. Only errors that mean "try again later" are retried; anything else (bad symbol,
insufficient margin, auth) propagates at once, because retrying it cannot help.
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


def backoff_delay(attempt: int, base_delay: float, max_delay: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number `attempt` (1-based): base * 2**(attempt-1), capped at
    max_delay, then "equal jitter" (uniform in [d/2, d]) so many clients that failed together
    do not retry together, while still waiting at least half the backoff."""
    d = min(max_delay, base_delay * (2.0 ** (attempt - 1)))
    return d * (0.5 + 0.5 * rand())


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
