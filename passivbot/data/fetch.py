"""Download 1m candles for a date range into the per-day cache, through ccxt async.

Day by day, oldest first: a complete day already in the cache is skipped; a missing, partial
or corrupt one is fetched (paginated `fetch_ohlcv`), gap-filled and written atomically before
the next day starts, so a killed download loses at most the day in progress and a rerun
continues from there. Transient errors are retried with `passivbot.retry.retry_async`; ccxt's
own rate limiter (enableRateLimit) spaces the requests.

"Now" is the exchange's server time (`fetch_time`), so the emulator's candle clock decides what
is complete when downloading from it: days ending at or before now are complete (trailing
missing minutes filled), the day containing now holds its closed minutes and stays partial.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import ccxt
import numpy as np
from tqdm import tqdm

from passivbot.data.cache import COMPLETE, CandleCache, check_symbol, fill_gaps
from passivbot.data.days import (
    DAY_MS, MINUTE_MS, day_start_ms, days_between, format_day_ranges, parse_day,
)
from passivbot.data.errors import DataError
from passivbot.exchanges.adapter import Capabilities
from passivbot.exchanges.registry import MODULES
from passivbot.retry import retry_async

log = logging.getLogger(__name__)


def _ohlcv_caps(exchange: str) -> Capabilities:
    """The exchange's one capability row (`passivbot.exchanges.<name>.CAPS`): the kline page
    size lives there and only there (`ohlcv_page`, what ccxt's fetch_ohlcv returns at most)."""
    return MODULES[exchange].CAPS


QUOTES = ("USDT", "USDC")


@dataclass
class FetchSummary:
    """What a download did: which days came from where, gaps filled, what failed."""

    exchange: str
    symbol: str
    start: date
    end: date
    days_fetched: list[date] = field(default_factory=list)
    days_from_cache: list[date] = field(default_factory=list)
    partial_days: list[date] = field(default_factory=list)  # current day: fewer than 1440 rows
    candles_fetched: int = 0
    gaps: dict[date, int] = field(default_factory=dict)  # filled minutes per day (> 0 only)
    failures: dict[date, str] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    perp: object = None  # passivbot.data.perp_fetch.PerpSummary when funding/mark/spec ran

    @property
    def gap_minutes(self) -> int:
        return sum(self.gaps.values())

    @property
    def ok(self) -> bool:
        return not self.failures and not (self.perp is not None and self.perp.errors)

    def format(self) -> str:
        """Human summary, a few lines."""
        rate = self.candles_fetched / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.exchange} {self.symbol} {self.start}..{self.end} (end exclusive)",
            f"  fetched:    {len(self.days_fetched)} days, {self.candles_fetched} candles, "
            f"{self.requests} requests, {self.retries} retries, {self.seconds:.1f} s "
            f"({rate:.0f} candles/s)",
            f"  from cache: {len(self.days_from_cache)} days",
            f"  gaps:       {self.gap_minutes} minutes filled with the previous close"
            + (f" ({format_day_ranges(list(self.gaps))})" if self.gaps else ""),
        ]
        if self.partial_days:
            lines.append(f"  partial:    {format_day_ranges(self.partial_days)} (in progress; "
                         "refreshed on the next run)")
        for d, why in list(self.failures.items())[:5]:
            lines.append(f"  FAILED:     {d}: {why}")
        if len(self.failures) > 5:
            lines.append(f"  FAILED:     ... {len(self.failures) - 5} more days")
        if self.perp is not None:
            lines += self.perp.lines()
        return "\n".join(lines)


def to_ccxt_symbol(symbol: str) -> str:
    """`ETHUSDT` -> `ETH/USDT:USDT` (linear perpetual); ccxt symbols pass through."""
    if "/" in symbol:
        return symbol
    for q in QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return f"{symbol[: -len(q)]}/{q}:{q}"
    raise DataError(f"cannot tell the quote currency of symbol {symbol!r} "
                    f"(expected e.g. ETHUSDT; quotes: {', '.join(QUOTES)})")


async def _fetch_window(ex, ccxt_symbol: str, start_ms: int, end_ms: int, caps: Capabilities,
                        summary: FetchSummary, retry: dict) -> np.ndarray:
    """All candles with open time in [start_ms, end_ms), paginated; (m, 6) float64."""
    pages, since = [], start_ms
    params_base: dict = {"until": end_ms - 1}

    def on_retry(attempt: int, err: BaseException, delay: float) -> None:
        summary.retries += 1
        log.info("fetch_ohlcv %s since %d failed (%s: %s); retry %d in %.1f s", ccxt_symbol,
                 since, type(err).__name__, err, attempt, delay)

    while since < end_ms:
        async def call(since=since):
            summary.requests += 1
            return await ex.fetch_ohlcv(ccxt_symbol, "1m", since, caps.ohlcv_page,
                                        dict(params_base))

        page = await retry_async(call, on_retry=on_retry, **retry)
        if not page:
            break
        arr = np.asarray(page, dtype=np.float64)[:, :6]
        pages.append(arr)
        last = int(arr[:, 0].max())
        if last + MINUTE_MS >= end_ms or len(page) < caps.ohlcv_page or last < since:
            break
        since = last + MINUTE_MS
    if not pages:
        return np.empty((0, 6))
    rows = np.concatenate(pages)
    return rows[(rows[:, 0] >= start_ms) & (rows[:, 0] < end_ms)]


async def download_range(exchange: str, symbol: str, start: str | date, end: str | date, *,
                         cache_dir: str = "caches", emulator: str | None = None, client=None,
                         progress: bool = True, attempts: int = 6, base_delay: float = 0.5,
                         max_delay: float = 30.0, rate_limit: bool = True,
                         perp: bool = True) -> FetchSummary:
    """Make the cache hold every day in [start, end) that the exchange has; return a summary.

    client: an existing ccxt async exchange (not closed here); otherwise one is made with
    `passivbot.exchanges.ccxt_factory.create_exchange(exchange, emulator=emulator)` and closed
    (rate_limit=False only for benchmarks against the emulator: real exchanges ban for it).
    Stops at the first day that fails after retries (the exchange is unreachable or refuses)
    and lists it, with the days not attempted, in `failures`; what was written stays written.
    With `perp`, then also the funding history, 1 h mark candles and the market spec for the
    range (`passivbot.data.perp_fetch`; skipped when a day failed on an exchange error).
    """
    check_symbol(symbol)
    if exchange not in MODULES:
        raise DataError(f"unsupported exchange {exchange!r} (supported: {', '.join(MODULES)})")
    start_d, end_d = parse_day(start), parse_day(end)
    if end_d <= start_d:
        raise DataError(f"end date {end_d} must be after start date {start_d} (end is exclusive)")
    caps, sym = _ohlcv_caps(exchange), to_ccxt_symbol(symbol)
    cache = CandleCache(cache_dir, exchange, symbol)
    cache.clean_stale_tmp()
    summary = FetchSummary(exchange, symbol, start_d, end_d)
    days = days_between(start_d, end_d)
    retry = dict(attempts=attempts, base_delay=base_delay, max_delay=max_delay)
    t0 = time.perf_counter()
    own = client is None
    if own:
        from passivbot.exchanges.ccxt_factory import create_exchange

        client = create_exchange(exchange, api_key=None, secret=None, emulator=emulator,
                                 rate_limit=rate_limit)
    bar = tqdm(total=len(days), unit="day", desc=f"{exchange} {symbol}", disable=not progress,
               leave=False)
    stopped = False
    try:
        now_ms: int | None = None
        prev_close: float | None = None
        prev = cache.read(start_d - timedelta(days=1))
        if prev.candles is not None:
            prev_close = float(prev.candles[-1, 4])
        for i, day in enumerate(days):
            got = cache.read(day)
            if got.status == COMPLETE:
                summary.days_from_cache.append(day)
                prev_close = float(got.candles[-1, 4])
                bar.update(1)
                continue
            try:
                if now_ms is None:
                        now_ms = await _server_time(client, summary, retry)
                candles, n_gaps = await _fetch_day(client, sym, day, now_ms, caps, summary,
                                                   retry, prev_close)
            except ccxt.BaseError as e:
                why = f"{type(e).__name__}: {str(e)[:200]}"
                summary.failures[day] = why
                for later in days[i + 1:]:
                    if cache.read(later).status == COMPLETE:
                        summary.days_from_cache.append(later)
                    else:
                        summary.failures[later] = "not attempted (an earlier day failed)"
                log.warning("download of %s %s stopped at %s: %s", exchange, symbol, day, why)
                stopped = True
                break
            if candles is None:
                summary.failures[day] = ("not available yet" if day_start_ms(day) >= now_ms
                                         else "the exchange returned no candles for this day")
                bar.update(1)
                continue
            try:
                cache.write(day, candles)
            except ValueError as e:  # the exchange served rows that cannot be candles
                summary.failures[day] = f"not stored: {e}"
                log.warning("%s %s %s not stored: %s", exchange, symbol, day, e)
                bar.update(1)
                continue
            summary.days_fetched.append(day)
            summary.candles_fetched += len(candles) - n_gaps
            if n_gaps:
                summary.gaps[day] = n_gaps
            if len(candles) < 1440:
                summary.partial_days.append(day)
            prev_close = float(candles[-1, 4])
            bar.update(1)
            el = time.perf_counter() - t0
            bar.set_postfix(candles=summary.candles_fetched,
                            rate=f"{summary.candles_fetched / max(el, 1e-9):.0f}/s")
        if perp and not stopped:
            summary.perp = await _download_perp(client, exchange, symbol, sym, start_d, end_d,
                                                now_ms, cache_dir, retry, summary)
    finally:
        bar.close()
        if own:
            await client.close()
        summary.seconds = time.perf_counter() - t0
    return summary


async def _download_perp(client, exchange, symbol, sym, start_d, end_d, now_ms, cache_dir,
                         retry, summary):
    from passivbot.data.perp_fetch import download_perp
    from passivbot.markets import MARKETS, spec_to_json

    known = MARKETS.get((exchange, symbol))

    async def server_time() -> int:
        return now_ms if now_ms is not None else await _server_time(client, summary, retry)

    return await download_perp(client, exchange, symbol, sym, day_start_ms(start_d),
                               day_start_ms(end_d), server_time, cache_dir, retry,
                               spec_to_json(known)["tiers"] if known else None)


async def _server_time(client, summary: FetchSummary, retry: dict) -> int:
    """The exchange's clock (ms): what is closed is decided by it, not by this machine."""

    async def call():
        summary.requests += 1
        return await client.fetch_time()

    def on_retry(attempt: int, err: BaseException, delay: float) -> None:
        summary.retries += 1

    return int(await retry_async(call, on_retry=on_retry, **retry))


async def _fetch_day(client, sym: str, day: date, now_ms: int, caps: Capabilities,
                     summary: FetchSummary, retry: dict,
                     prev_close: float | None) -> tuple[np.ndarray | None, int]:
    """One day's gap-filled candles up to the last closed minute (None: nothing there)."""
    start = day_start_ms(day)
    end = min(start + DAY_MS, now_ms // MINUTE_MS * MINUTE_MS)
    if end <= start:
        return None, 0
    rows = await _fetch_window(client, sym, start, end, caps, summary, retry)
    if len(rows) == 0:
        return None, 0
    return fill_gaps(rows, start, (end - start) // MINUTE_MS, prev_close)
