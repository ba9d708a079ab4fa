"""Download what a perpetual's accounting needs beside its candles: funding-rate history, 1 h
mark-price candles and the market spec, through ccxt (public endpoints only).

Funding and mark prices are fetched window by window, each window small enough that the
exchange cannot truncate it whatever its order or interval (funding is at most hourly: a
window of `limit` hours holds at most `limit` events; a window of `limit` hour candles holds
exactly `limit`), so no pagination guesswork: Binance 1000 events / 1000 candles a request,
Bybit 200 / 1000. After each window the cache file is merged and rewritten atomically with its
`covered` span extended, so a killed download resumes where it stopped and a rerun over a
covered span makes no request. The covered span stays one interval: a request before it is
fetched newest first down to its start, a request after it oldest first (the stretch between
an old coverage and a later request is fetched too).

The spec: price step, qty step, min qty, min notional from ccxt's markets (exchangeInfo /
instruments-info); margin tiers from Bybit's public `/v5/market/risk-limit`
(`fetch_market_leverage_tiers`). Binance publishes its brackets only to signed requests
(`/fapi/v1/leverageBracket` is USER_DATA), so a Binance spec takes the tiers of the bundled
snapshot when it has the symbol, and has none otherwise (then `market_spec` says so).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from passivbot.data.series_cache import (
    MARK_TIMEFRAME_MS, SeriesFile, funding_file, mark_file, merge_rows, read_spec_json,
    write_spec_json,
)
from passivbot.retry import retry_async

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
FUNDING_PAGE = {"binance": 1000, "bybit": 200}
MARK_PAGE = 1000
SPEC_MAX_AGE_MS = 86_400_000  # tiers and filters change: refresh a stored spec after a day


@dataclass
class PerpSummary:
    """What `download_perp` did."""

    funding_events: int = 0  # in the cache for the range, after the download
    mark_candles: int = 0
    funding_requests: int = 0
    mark_requests: int = 0
    spec: str = ""  # where the spec came from, or why there is none
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"  funding:    {self.funding_events} events ({self.funding_requests} requests)",
               f"  mark 1h:    {self.mark_candles} candles ({self.mark_requests} requests)",
               f"  spec:       {self.spec}"]
        out += [f"  FAILED:     {e}" for e in self.errors]
        return out


def _gaps(cov: tuple[int, int] | None, start: int, end: int) -> list[tuple[int, int, bool]]:
    """(lo, hi, descending) spans to fetch so that coverage becomes one interval over
    [start, end) united with `cov`."""
    if cov is None or cov[1] <= cov[0]:
        return [(start, end, False)] if end > start else []
    out = []
    if start < cov[0]:
        out.append((start, cov[0], True))
    if end > cov[1]:
        out.append((cov[1], end, False))
    return out


async def _fill(sf: SeriesFile, start: int, end: int, step_ms: int, fetch) -> int:
    """Fetch what `sf` lacks of [start, end); `fetch(lo, hi)` returns rows with time in
    [lo, hi). Writes after every window. Returns the number of requests."""
    got = sf.read()
    rows, cov = got if got is not None else (np.empty((0, sf.n_cols)), None)
    n = 0
    for lo, hi, desc in _gaps(cov, start, end):
        t = hi if desc else lo
        while (t > lo) if desc else (t < hi):
            a, b = (max(lo, t - step_ms), t) if desc else (t, min(hi, t + step_ms))
            new = np.asarray(await fetch(a, b), dtype=np.float64).reshape(-1, sf.n_cols)
            n += 1
            new = new[(new[:, 0] >= a) & (new[:, 0] < b)]
            rows = merge_rows(rows, new) if len(new) else rows
            if cov is None or cov[1] <= cov[0]:
                cov = (a, b)
            else:
                cov = (min(cov[0], a), max(cov[1], b))
            sf.write(rows, cov)
            t = a if desc else b
    return n


async def download_perp(client, exchange: str, symbol: str, ccxt_symbol: str, start_ms: int,
                        end_ms: int, server_time, cache_dir, retry: dict,
                        bundled_tiers=None) -> PerpSummary:
    """Funding events and 1 h mark candles for [start_ms, end_ms), and the spec, into the
    cache. `server_time()` (async, ms) is asked only when something is missing: nothing at or
    after the exchange's now is marked covered. Errors are collected, not raised: the candles
    are the download's main product and stay usable."""
    import ccxt

    s = PerpSummary()
    ff, mf = funding_file(cache_dir, exchange, symbol), mark_file(cache_dir, exchange, symbol)

    async def call(fn, *a, **kw):
        return await retry_async(lambda: fn(*a, **kw), **retry)

    async def funding(lo: int, hi: int) -> list:
        s.funding_requests += 1
        page = await call(client.fetch_funding_rate_history, ccxt_symbol, lo,
                          FUNDING_PAGE[exchange], {"until": hi - 1})
        return [(r["timestamp"], r["fundingRate"]) for r in page if r.get("fundingRate") is not None]

    async def mark(lo: int, hi: int) -> list:
        s.mark_requests += 1
        page = await call(client.fetch_ohlcv, ccxt_symbol, "1h", lo, MARK_PAGE,
                          {"price": "mark", "until": hi - 1})
        return [r[:5] for r in page]

    try:
        covs = [(sf.read() or (None, None))[1] for sf in (ff, mf)]
        if any(_gaps(c, start_ms, end_ms) for c in covs):
            end_ms = min(end_ms, int(await server_time()))
        if end_ms > start_ms:
            await _fill(ff, start_ms, end_ms, FUNDING_PAGE[exchange] * HOUR_MS, funding)
        m_lo = start_ms // MARK_TIMEFRAME_MS * MARK_TIMEFRAME_MS
        m_hi = end_ms // MARK_TIMEFRAME_MS * MARK_TIMEFRAME_MS  # closed hours only
        if m_hi > m_lo:
            await _fill(mf, m_lo, m_hi, MARK_PAGE * MARK_TIMEFRAME_MS, mark)
    except (ccxt.BaseError, OSError) as e:
        s.errors.append(f"funding/mark: {type(e).__name__}: {str(e)[:200]}")
    for sf, attr in ((ff, "funding_events"), (mf, "mark_candles")):  # what the range holds
        got = sf.read()
        if got is not None:
            t = got[0][:, 0]
            setattr(s, attr, int(((t >= start_ms) & (t < end_ms)).sum()))
    try:
        s.spec = await store_spec(client, exchange, symbol, ccxt_symbol, cache_dir, retry,
                                  bundled_tiers)
    except (ccxt.BaseError, OSError, ValueError, KeyError) as e:
        s.errors.append(f"spec: {type(e).__name__}: {str(e)[:200]}")
        s.spec = "not stored"
    return s


def _tiers_from_ccxt(tiers: list) -> list[dict]:
    """ccxt leverage tiers -> spec tiers; the maintenance amount is the exchange's
    (mmDeduction / cum) when it gives one, else made continuous as the exchanges define it."""
    out, cum, prev_cap, prev_mmr = [], 0.0, 0.0, None
    for i, t in enumerate(tiers):
        cap, mmr = float(t["maxNotional"]), float(t["maintenanceMarginRate"])
        cum += prev_cap * (mmr - (mmr if prev_mmr is None else prev_mmr))
        info = t.get("info") or {}
        given = info.get("mmDeduction", info.get("cum"))
        amt = float(given) if given not in (None, "") else cum
        last = i == len(tiers) - 1
        out.append({"notional_cap": None if last else cap, "mmr": mmr, "maint_amount": amt,
                    "max_leverage": int(float(t["maxLeverage"]))})
        prev_cap, prev_mmr = cap, mmr
    return out


async def store_spec(client, exchange: str, symbol: str, ccxt_symbol: str, cache_dir,
                     retry: dict, bundled_tiers=None) -> str:
    """Write `{cache_dir}/{exchange}/{symbol}/spec.json` (unless one younger than a day is
    there); returns a one-line description of where its values came from."""
    from passivbot.markets import DEFAULT_FEES, spec_from_json

    try:
        old = read_spec_json(cache_dir, exchange, symbol)
    except (OSError, ValueError):
        old = None
    now = int(time.time() * 1000)
    if old and now - int(old.get("fetched_ms", 0)) < SPEC_MAX_AGE_MS:
        return f"stored {old.get('source_note', '')} (kept: younger than a day)"
    markets = await retry_async(client.load_markets, **retry)
    m = markets[ccxt_symbol]
    obj = {"exchange": exchange, "symbol": symbol, "base": m["base"], "quote": m["quote"],
           "price_step": float(m["precision"]["price"]),
           "qty_step": float(m["precision"]["amount"]),
           "min_qty": float(m["limits"]["amount"]["min"] or m["precision"]["amount"]),
           "min_cost": float(m["limits"]["cost"]["min"] or 0.0),
           "mmr_add": DEFAULT_FEES[exchange]["taker_fee"] if exchange == "bybit" else 0.0,
           "fetched_ms": now}
    if exchange == "bybit":
        tiers = await retry_async(lambda: client.fetch_market_leverage_tiers(ccxt_symbol),
                                  **retry)
        obj["tiers"] = _tiers_from_ccxt(tiers)
        note = "markets and tiers from the exchange (public /v5/market/risk-limit)"
    elif bundled_tiers is not None:
        obj["tiers"] = bundled_tiers
        note = ("markets from the exchange; tiers from the bundled snapshot (Binance's "
                "leverageBracket needs API keys)")
    else:
        obj["tiers"] = None
        note = ("markets from the exchange; NO tiers: Binance's leverageBracket needs API keys "
                "and the bundled snapshot lacks this symbol")
    obj["source_note"] = note
    if obj["tiers"] is not None:
        spec_from_json(obj)  # never store what the reader would refuse
    for key in ("price_step", "qty_step", "min_qty"):
        if not math.isfinite(obj[key]) or obj[key] <= 0:
            raise ValueError(f"exchange market {ccxt_symbol}: {key} {obj[key]!r} is not > 0")
    path = write_spec_json(cache_dir, exchange, symbol, obj)
    return f"{path}: {note}"
