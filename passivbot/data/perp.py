"""Funding events with the mark price at each, for the backtester's funding charge.

A perpetual's holder pays (rate > 0: longs pay shorts) or receives position notional at the mark
price x rate at each funding time. The times are the exchange's: intervals differ between
symbols (1, 2, 4 or 8 h) and change over time (ENA runs at 4 h in the bundled sample), so the
series is read, never generated on an 8 h grid.

Sources, in order: the downloader's cache (`{cache_dir}/{exchange}/{SYMBOL}/funding.npz` and
`mark_1h.npz`, see `series_cache`), then the bundled Binance sample (also used for Bybit: the
bundled candles are Binance's too). The one that covers the requested span is used; if none
covers all of it, the one covering most of it, with a warning; nothing known: empty, "none".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from passivbot.data.bundled import BUNDLED_SYMBOLS, load_bundled_funding, load_bundled_mark
from passivbot.data.days import MINUTE_MS
from passivbot.data.series_cache import funding_file, mark_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FundingSeries:
    """Funding events in [start_ms, end_ms) of one symbol.

    times_ms: int64 ascending, the event time floored to the minute (exchanges stamp events a few
        ms past the hour; the replay settles at the candle that opens at this minute).
    rates: float64 fractions (0.0001 = 0.01 %); > 0: longs pay, shorts receive.
    mark: float64 mark price at each event (the open of the mark candle that starts at the event
        minute); NaN where the source has no mark candle there (e.g. a 4 h event between two
        bundled 8 h mark candles): the caller decides the fallback (e.g. the 1m candle's open).
    source: "cache", "bundled" or "none".
    covered_ms: [start, end) span the source knows; outside it an absent event means unknown,
        not "no funding". Equal to the request when the source covers all of it.
    """

    times_ms: np.ndarray
    rates: np.ndarray
    mark: np.ndarray
    source: str
    covered_ms: tuple[int, int] = (0, 0)

    def __len__(self) -> int:
        return len(self.times_ms)


def _empty(source: str = "none") -> FundingSeries:
    return FundingSeries(np.empty(0, np.int64), np.empty(0), np.empty(0), source, (0, 0))


def _series(rows: np.ndarray, mark_rows: np.ndarray | None, start_ms: int, end_ms: int,
            covered: tuple[int, int], source: str) -> FundingSeries:
    times = (rows[:, 0].astype(np.int64) // MINUTE_MS) * MINUTE_MS
    keep = (times >= start_ms) & (times < end_ms)
    times, rates = times[keep], rows[keep, 1].astype(np.float64)
    mark = np.full(len(times), np.nan)
    if mark_rows is not None and len(mark_rows) and len(times):
        mt = mark_rows[:, 0].astype(np.int64)
        i = np.clip(np.searchsorted(mt, times), 0, len(mt) - 1)
        hit = mt[i] == times
        mark[hit] = mark_rows[i[hit], 1]
    return FundingSeries(times, rates, mark, source,
                         (max(covered[0], start_ms), min(covered[1], end_ms)))


def _overlap(covered: tuple[int, int], start_ms: int, end_ms: int) -> int:
    return max(0, min(covered[1], end_ms) - max(covered[0], start_ms))


def load_funding(exchange: str, symbol: str, start_ms: int, end_ms: int,
                 cache_dir: str | None = None) -> FundingSeries:
    """Funding events of `symbol` on `exchange` with time in [start_ms, end_ms), and their mark.

    Reads the cache under `cache_dir` (None: no cache) first, else the bundled sample; returns
    an empty series with source "none" when neither knows anything of the span. Never raises
    for missing data (a backtest without funding data still runs; its report says so).
    """
    start_ms, end_ms = int(start_ms), int(end_ms)
    candidates = []
    if cache_dir is not None:
        got = funding_file(cache_dir, exchange, symbol).read()
        if got is not None:
            rows, covered = got
            marks = mark_file(cache_dir, exchange, symbol).read()
            candidates.append((rows, marks[0] if marks else None, covered, "cache"))
    if symbol in BUNDLED_SYMBOLS:
        rows = load_bundled_funding(symbol)
        covered = (int(rows[0, 0]) // MINUTE_MS * MINUTE_MS, int(rows[-1, 0]) + 1)
        candidates.append((rows, load_bundled_mark(symbol), covered, "bundled"))
    if not candidates or end_ms <= start_ms:
        return _empty()
    best = max(candidates, key=lambda c: _overlap(c[2], start_ms, end_ms))  # first on ties
    if _overlap(best[2], start_ms, end_ms) == 0:
        return _empty()
    out = _series(best[0], best[1], start_ms, end_ms, best[2], best[3])
    if out.covered_ms != (start_ms, end_ms):
        log.warning("funding of %s %s known only for %d..%d ms of %d..%d (%s)", exchange,
                    symbol, out.covered_ms[0], out.covered_ms[1], start_ms, end_ms, best[3])
    return out
