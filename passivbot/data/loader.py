"""Candles for the backtester: from the cache (downloading what is missing), the bundled sample,
or the synthetic generator. Every source returns the same thing: float64 (n, 6) timestamp ms,
open, high, low, close, volume; one row a minute, contiguous.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from datetime import date, datetime, timedelta, timezone

import ccxt
import numpy as np

from passivbot.data.bundled import BUNDLED_SYMBOLS, load_bundled
from passivbot.data.cache import COMPLETE, PARTIAL, CandleCache
from passivbot.data.days import (
    MINUTE_MS, day_of_ms, day_start_ms, days_between, format_day_ranges, parse_day,
)
from passivbot.data.errors import DataError
from passivbot.data.synthetic import synthetic_candles

log = logging.getLogger(__name__)

DATA_SOURCES = ("cache", "bundled", "synthetic")


def download_command(exchange: str, symbol: str, start: date, end: date, cache_dir: str) -> str:
    """The shell command that fills the cache for [start, end)."""
    cmd = (f"python3 downloader.py --exchange {exchange} --symbol {symbol} "
           f"--start-date {start.isoformat()} --end-date {end.isoformat()}")
    return cmd if str(cache_dir) == "caches" else cmd + f" --cache-dir {cache_dir}"


def _run(coro):
    """Run a coroutine from sync code, also when the caller already runs an event loop
    (a notebook, an async test): then in a worker thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def load_candles(exchange: str, symbol: str, start: str | date, end: str | date, *,
                 cache_dir: str = "caches", download: bool = True, emulator: str | None = None,
                 progress: bool = False, attempts: int = 6) -> np.ndarray:
    """Cached 1m candles for the days [start, end) as one contiguous array.

    Days not complete in the cache are downloaded first when `download` (from `emulator`
    "HOST:PORT" if given; `attempts` per request, see passivbot.retry). The last day may be partial (the day in progress); any other day
    missing afterwards raises DataError naming the days and the downloader command.
    One preallocated array filled day by day: no per-row Python (a year loads in ~0.1 s).
    """
    start_d, end_d = parse_day(start), parse_day(end)
    if end_d <= start_d:
        raise DataError(f"end date {end_d} must be after start date {start_d} (end is exclusive)")
    days = days_between(start_d, end_d)
    cache = CandleCache(cache_dir, exchange, symbol)
    reads = [cache.read(d) for d in days]
    todo = [r.day for r in reads if r.status != COMPLETE]
    why_missing = ""
    if todo and download:
        from passivbot.data.fetch import download_range

        try:
            summary = _run(download_range(exchange, symbol, todo[0], todo[-1] + timedelta(days=1),
                                          cache_dir=cache_dir, emulator=emulator,
                                          progress=progress, attempts=attempts))
            why_missing = next(iter(summary.failures.values()), "")
        except (ccxt.BaseError, OSError) as e:
            why_missing = f"{type(e).__name__}: {str(e)[:200]}"
        redo = {d: cache.read(d) for d in todo}
        reads = [redo.get(r.day, r) for r in reads]
    last = len(reads) - 1
    bad = [r.day for i, r in enumerate(reads)
           if not (r.status == COMPLETE or (r.status == PARTIAL and i == last))]
    if bad:
        raise DataError(_missing_message(exchange, symbol, bad, cache_dir, download, why_missing))
    return _assemble([r.candles for r in reads])


def _missing_message(exchange: str, symbol: str, bad: list[date], cache_dir: str,
                     download: bool, why: str) -> str:
    msg = (f"no cached candles for {exchange} {symbol} on {len(bad)} day(s): "
           f"{format_day_ranges(bad)} (cache: {cache_dir}/{exchange}/{symbol}/)")
    if download:
        msg += f"\ndownload failed: {why}" if why else "\nthe exchange has no candles for them"
    msg += ("\nto download them: "
            + download_command(exchange, symbol, bad[0], bad[-1] + timedelta(days=1), cache_dir))
    return msg


def _assemble(parts: list[np.ndarray]) -> np.ndarray:
    out = np.empty((sum(len(p) for p in parts), 6))
    i = 0
    for p in parts:
        out[i: i + len(p)] = p
        i += len(p)
    return out


def check_contiguous(candles: np.ndarray, what: str) -> np.ndarray:
    """`candles` if one row a minute without a gap, else DataError naming the first gap.

    The replay counts time in rows, so a missing minute would silently shorten every duration
    (days, EMA spans, funding intervals). Gaps are never filled here: the downloader fills the
    minutes an exchange has no candle for when it stores a day, and reports how many.
    """
    if len(candles) > 1:
        d = np.diff(candles[:, 0])
        bad = np.flatnonzero(d != MINUTE_MS)
        if len(bad):
            i = int(bad[0])
            raise DataError(
                f"{what}: candles are not one minute apart: {len(bad)} break(s), the first "
                f"after ts {candles[i, 0]:.0f} (next row ts {candles[i + 1, 0]:.0f}, "
                f"{d[i] / MINUTE_MS:+.0f} minutes)")
    return candles


def load_source(data_source: str, exchange: str, symbol: str, start: str | date | None,
                end: str | date | None, seed: int = 0, *, cache_dir: str = "caches",
                download: bool = True, emulator: str | None = None) -> np.ndarray:
    """Candles for a backtest from `data_source`:

    - "cache": `load_candles` (exchange data, downloaded when missing);
    - "bundled": the shipped real Binance sample for `symbol`, cut to [start, end) (None: all
      of it); DataError stating the available range when the request is outside it;
    - "synthetic": `synthetic_candles` for the minutes of [start, end) with `seed` (not market
      data: reports must say so).
    """
    if data_source == "cache":
        if start is None or end is None:
            raise DataError("data_source 'cache' needs a start and an end date")
        return check_contiguous(load_candles(exchange, symbol, start, end, cache_dir=cache_dir,
                                             download=download, emulator=emulator),
                                f"cached {exchange} {symbol}")
    if data_source == "bundled":
        return check_contiguous(_bundled_slice(symbol, start, end), f"bundled {symbol}")
    if data_source == "synthetic":
        if start is None or end is None:
            raise DataError("data_source 'synthetic' needs a start and an end date")
        s, e = day_start_ms(parse_day(start)), day_start_ms(parse_day(end))
        if e <= s:
            raise DataError(f"end date {end} must be after start date {start}")
        return synthetic_candles((e - s) // MINUTE_MS, seed, start_ts=s)
    raise DataError(f"unknown data_source {data_source!r} (one of: {', '.join(DATA_SOURCES)})")


def bundled_range(symbol: str) -> tuple[date, date]:
    """Days [first, last + 1) the bundled sample of `symbol` touches (end exclusive)."""
    arr = load_bundled(symbol)
    return day_of_ms(arr[0, 0]), day_of_ms(arr[-1, 0]) + timedelta(days=1)


def _bundled_slice(symbol: str, start, end) -> np.ndarray:
    if symbol not in BUNDLED_SYMBOLS:
        raise DataError(f"no bundled candles for {symbol!r} (bundled: {', '.join(BUNDLED_SYMBOLS)})")
    arr = load_bundled(symbol)
    first, end_excl = bundled_range(symbol)
    s_d = parse_day(start) if start is not None else first
    e_d = parse_day(end) if end is not None else end_excl
    if s_d < first or e_d > end_excl or e_d <= s_d:
        def fmt(ms):
            return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")

        raise DataError(
            f"bundled {symbol} candles cover {fmt(arr[0, 0])} .. {fmt(arr[-1, 0])} UTC; "
            f"requested {s_d}..{e_d} (end exclusive) is outside it: use dates within "
            f"{first}..{end_excl}")
    s_ms, e_ms = day_start_ms(s_d), day_start_ms(e_d)
    lo, hi = np.searchsorted(arr[:, 0], [s_ms, e_ms])
    return np.array(arr[lo:hi])  # a writable copy: the bundled array is shared
