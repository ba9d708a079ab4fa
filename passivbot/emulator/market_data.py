"""Public market-data routes of the emulator: funding-rate history and mark-price klines.

What the downloader fetches beside the candles, served from the same arrays the emulator
replays, as the venues serve them (only what has happened by the emulator's clock):

- Binance `GET /fapi/v1/fundingRate` (symbol, startTime, endTime, limit <= 1000, default 100;
  ascending; with neither bound the latest `limit`) and `GET /fapi/v1/markPriceKlines` (the
  `/fapi/v1/klines` row shape, volume fields "0"; limit <= 1500, default 500).
- Bybit `GET /v5/market/funding/history` (category, symbol, startTime, endTime, limit <= 200;
  newest first, the newest `limit` in the window) and `GET /v5/market/mark-price-kline`
  (interval in minutes or D/W; start, end, limit <= 1000, default 200; newest first, rows
  [start, open, high, low, close]).

Funding: `emu.fundings[symbol]`, float (n, 2) or (n, 3) (fundingTime ms, rate[, mark: NaN
unknown]) or None (then no events); the emulator's own is the series it settles
(`emulator.perp`). Mark
price: the emulator marks positions at the last price, so its mark klines are the candles
aggregated to the interval (the last bucket may be in progress, as on the venues).
"""

from __future__ import annotations

import numpy as np
from aiohttp import web

from passivbot.emulator import core

_INTERVALS_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
                 "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
                 "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000}
_BYBIT_INTERVALS = {"1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h",
                    "120": "2h", "240": "4h", "360": "6h", "720": "12h", "D": "1d"}


def register_market_data(emu) -> None:
    """Mount the routes on `emu.app` for its exchange (called once by the Emulator)."""
    md = MarketData(emu)
    get = emu.app.router.add_get
    if emu.exchange == "binance":
        get("/fapi/v1/fundingRate", md.binance_funding)
        get("/fapi/v1/markPriceKlines", md.binance_mark_klines)
    else:
        get("/v5/market/funding/history", md.bybit_funding)
        get("/v5/market/mark-price-kline", md.bybit_mark_klines)


def _s(x: float) -> str:
    return np.format_float_positional(float(x), trim="-")


class MarketData:
    def __init__(self, emu) -> None:
        self.emu = emu

    # -- data ----------------------------------------------------------------------------
    def _book(self, p: dict):
        """The requested symbol's book (None: not a symbol of this account)."""
        return self.emu.accounts.get(p.get("symbol", self.emu.symbol))

    def _events(self, sym: str | None = None) -> np.ndarray:
        """Funding events of `sym` (default: the first symbol) that have happened (time <
        now), float (k, 2)."""
        f = self.emu.fundings.get(sym or self.emu.symbol)
        if f is None:
            return np.empty((0, 2))
        if hasattr(f, "times_ms"):
            f = np.column_stack([f.times_ms, f.rates, f.mark])
        f = np.asarray(f, dtype=np.float64)
        f = f.reshape(-1, f.shape[-1] if f.ndim == 2 else 2)
        if f.shape[1] == 2:  # no marks known: each event's mark is its minute's open
            f = np.column_stack([f, np.full(len(f), np.nan)])
        return f[f[:, 0] < self.emu.account.now_ms()]

    def _mark(self, interval_ms: int, acc=None) -> np.ndarray:
        """Closed 1m candles aggregated to `interval_ms` buckets: float (k, 5) t, o, h, l, c."""
        acc = acc or self.emu.account
        c = acc.candles[: acc.clock]
        if len(c) == 0:
            return np.empty((0, 5))
        b = (c[:, 0] // interval_ms).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        ends = np.r_[starts[1:], len(c)]
        out = np.empty((len(starts), 5))
        out[:, 0] = b[starts] * interval_ms
        out[:, 1] = c[starts, 1]
        out[:, 2] = np.maximum.reduceat(c[:, 2], starts)
        out[:, 3] = np.minimum.reduceat(c[:, 3], starts)
        out[:, 4] = c[ends - 1, 4]
        return out

    @staticmethod
    def _window(rows: np.ndarray, start, end, limit: int, newest: bool) -> np.ndarray:
        """Rows with time in [start, end] (either bound optional), `limit` of them: the oldest
        from `start` (Binance with a start), else the newest up to `end`."""
        t = rows[:, 0]
        if start is not None:
            rows, t = rows[t >= float(start)], t[t >= float(start)]
        if end is not None:
            rows = rows[t <= float(end)]
        return rows[-limit:] if (newest or start is None) else rows[:limit]

    # -- Binance -------------------------------------------------------------------------
    def _binance_params(self, req):
        p = dict(req.query)
        if self._book(p) is None:
            from passivbot.emulator.binance_rest import error

            return p, error(core.R_BAD_SYMBOL)
        return p, None

    async def binance_funding(self, req):
        p, err = self._binance_params(req)
        if err:
            return err
        acc = self._book(p)
        sym = acc.spec.symbol
        limit = max(1, min(int(p.get("limit", 100)), 1000))
        rows = self._window(self._events(sym), p.get("startTime"), p.get("endTime"), limit,
                            False)
        mark = self._mark(60_000, acc)
        out = []
        for t, rate, m in rows:  # the mark the account was charged at, else the minute's open
            i = int(np.searchsorted(mark[:, 0], t // 60_000 * 60_000))
            if np.isnan(m):
                m = mark[i, 1] if i < len(mark) else acc.last_price
            out.append({"symbol": sym, "fundingTime": int(t),
                        "fundingRate": _s(rate), "markPrice": _s(m)})
        return web.json_response(out)

    async def binance_mark_klines(self, req):
        p, err = self._binance_params(req)
        if err:
            return err
        iv = _INTERVALS_MS.get(p.get("interval", ""))
        if iv is None:
            from passivbot.emulator.binance_rest import error

            return error(core.R_BAD_PARAM, "interval")
        limit = max(1, min(int(p.get("limit", 500)), 1500))
        rows = self._window(self._mark(iv, self._book(p)), p.get("startTime"), p.get("endTime"),
                            limit, False)
        return web.json_response([[int(r[0]), _s(r[1]), _s(r[2]), _s(r[3]), _s(r[4]), "0",
                                   int(r[0]) + iv - 1, "0", 0, "0", "0", "0"] for r in rows])

    # -- Bybit ---------------------------------------------------------------------------
    def _bybit_params(self, req):
        p = dict(req.query)
        if self._book(p) is None:
            return p, self.emu.rest.err(core.R_BAD_SYMBOL)
        return p, None

    async def bybit_funding(self, req):
        p, err = self._bybit_params(req)
        if err:
            return err
        sym = self._book(p).spec.symbol
        limit = max(1, min(int(p.get("limit", 200)), 200))
        rows = self._window(self._events(sym), p.get("startTime"), p.get("endTime"), limit, True)
        lst = [{"symbol": sym, "fundingRate": _s(rate),
                "fundingRateTimestamp": str(int(t))} for t, rate, _ in rows[::-1]]
        return self.emu.rest.ok({"category": "linear", "list": lst})

    async def bybit_mark_klines(self, req):
        p, err = self._bybit_params(req)
        if err:
            return err
        iv = _INTERVALS_MS.get(_BYBIT_INTERVALS.get(p.get("interval", ""), ""))
        if iv is None:
            return self.emu.rest.err(core.R_BAD_PARAM, "interval")
        limit = max(1, min(int(p.get("limit", 200)), 1000))
        acc = self._book(p)
        rows = self._window(self._mark(iv, acc), p.get("start"), p.get("end"), limit, True)
        lst = [[str(int(r[0])), _s(r[1]), _s(r[2]), _s(r[3]), _s(r[4])] for r in rows[::-1]]
        return self.emu.rest.ok({"symbol": acc.spec.symbol, "category": "linear", "list": lst})
