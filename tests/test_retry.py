"""retry_async: retries only transient errors, bounded attempts, backoff grows and is capped."""

import math

import ccxt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from passivbot.retry import backoff_delay, retry_async


class Flaky:
    def __init__(self, errors):
        self.errors, self.calls = list(errors), 0

    async def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_transient_errors_are_retried_until_success():
    fn, delays, seen = Flaky([ccxt.RateLimitExceeded("429"), ccxt.RequestTimeout("t"),
                              ccxt.ExchangeNotAvailable("503")]), [], []

    async def sleep(d):
        delays.append(d)

    out = await retry_async(fn, attempts=5, base_delay=1.0, max_delay=3.0, sleep=sleep,
                            on_retry=lambda a, e, d: seen.append((a, type(e).__name__)))
    assert out == "ok" and fn.calls == 4
    assert seen == [(1, "RateLimitExceeded"), (2, "RequestTimeout"), (3, "ExchangeNotAvailable")]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 1.5 <= delays[2] <= 3.0


async def test_attempts_are_bounded_and_the_last_error_is_raised():
    fn = Flaky([ccxt.NetworkError(str(i)) for i in range(10)])

    async def sleep(d):
        pass

    with pytest.raises(ccxt.NetworkError, match="2"):
        await retry_async(fn, attempts=3, base_delay=0.01, max_delay=0.01, sleep=sleep)
    assert fn.calls == 3


async def test_non_transient_errors_are_not_retried():
    fn = Flaky([ccxt.BadSymbol("nope")])
    with pytest.raises(ccxt.BadSymbol):
        await retry_async(fn, attempts=5, base_delay=0.01, max_delay=0.01)
    assert fn.calls == 1


def test_backoff_is_exponential_capped_and_jittered():
    assert backoff_delay(1, 0.5, 10, rand=lambda: 1.0) == 0.5
    assert backoff_delay(4, 0.5, 10, rand=lambda: 1.0) == 4.0
    assert backoff_delay(10, 0.5, 10, rand=lambda: 1.0) == 10.0
    assert backoff_delay(10, 0.5, 10, rand=lambda: 0.0) == 5.0


def test_backoff_delay_never_overflows_after_1025_failures():
    """Regression: 0.5 * 2 ** 1025 raised OverflowError in the bot's hand-rolled backoffs."""
    for attempt in (1024, 1025, 1026, 10**6, 10**12):
        assert backoff_delay(attempt, 0.5, 30.0, rand=lambda: 1.0) == 30.0
        assert backoff_delay(attempt, 0.5, 30.0, rand=lambda: 0.0) == 15.0


def test_backoff_streak_grows_caps_and_resets():
    from passivbot.retry import Backoff

    b = Backoff(0.5, 30.0, rand=lambda: 1.0)
    delays = [b.fail() for _ in range(2000)]  # far past the old overflow at 1,025
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0] and max(delays) == 30.0 and b.streak == 2000
    b.reset()
    assert b.fail() == 0.5


@given(st.integers(1, 10**30), st.floats(1e-4, 100.0), st.floats(1e-3, 1e5),
       st.floats(0.0, 1.0))
def test_backoff_delay_is_finite_capped_and_at_least_half_for_any_streak(attempt, base, cap,
                                                                         r):
    """Property: any attempt number (1,025 and far beyond) gives a finite delay in
    [d / 2, d], d = min(cap, base x 2^(attempt-1)) (2^(attempt-1) capped at 2^63 first), and
    a longer streak never waits less (same jitter draw)."""
    d = backoff_delay(attempt, base, cap, rand=lambda: r)
    full = min(cap, base * 2.0 ** min(attempt - 1, 63))
    assert math.isfinite(d) and 0.5 * full - 1e-12 <= d <= full + 1e-12
    assert backoff_delay(attempt + 1, base, cap, rand=lambda: r) >= d - 1e-12
