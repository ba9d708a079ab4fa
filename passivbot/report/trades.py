"""The exchange's trade history, all of it, and the ledger that turns trades into journal fills.

`fetch_trades` reads `fetch_my_trades` (ccxt) page by page within the venues' rules (see
`emulator/history.py` for the rules the emulator copies): windows of at most 7 days from
`since` to `until`; inside a window, Binance answers the first `page` trades in ascending
time (the next page starts at the last trade's time, duplicates dropped by trade id), Bybit the
newest `page` with a cursor for the next, older page (`info.nextPageCursor`, which ccxt puts on
one trade of the page). ccxt's own `paginate` option stops at the first empty page, so a quiet
week would end the history there; this loop walks every window.

`ledger_step` is the one bookkeeping of a fill the live view and the report share: an entry
moves the entry price to the size-weighted mean, a close realizes size x (price - entry),
signed by side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

WEEK_MS = 7 * 24 * 3600 * 1000
MAX_PAGES = 100_000  # a bound on the loop: 10^7 trades at Bybit's 100 a page
EPS = 1e-12


async def _direct(fn: Callable[[], Awaitable[Any]]) -> Any:
    return await fn()


def _cursor(trades: list[dict]) -> str:
    for t in trades:
        c = (t.get("info") or {}).get("nextPageCursor")
        if c is not None:
            return str(c)
    return ""


async def fetch_trades(ex, symbol: str, since_ms: int, until_ms: int, page: int,
                       cursor_paging: bool, rest: Callable = _direct) -> list[dict]:
    """Every trade of `symbol` with since_ms <= timestamp <= until_ms, oldest first (ccxt trade
    dicts, each once). `page`: the venue's most trades per answer; `cursor_paging`: pages
    within a window by cursor (Bybit) instead of by time (Binance). `rest(fn)` wraps each call
    (the bot's retry and rate-limit guard)."""
    seen: dict[str, dict] = {}
    pages = 0

    async def get(start: int, end: int, extra: dict) -> list[dict]:
        nonlocal pages
        pages += 1
        if pages > MAX_PAGES:
            raise RuntimeError(f"trade history: more than {MAX_PAGES} pages")
        params = {"until": end, **extra}
        got = await rest(lambda: ex.fetch_my_trades(symbol, since=start, limit=page,
                                                    params=params))
        return [t for t in (got or []) if start <= int(t.get("timestamp") or 0) <= end]

    def add(trades: list[dict]) -> int:
        new = 0
        for t in trades:
            key = str(t.get("id") or f"{t.get('order')}-{t.get('timestamp')}-{t.get('amount')}")
            if key not in seen:
                seen[key] = t
                new += 1
        return new

    start = int(since_ms)
    while start <= until_ms:
        end = min(start + WEEK_MS - 1, int(until_ms))
        if cursor_paging:
            cursor = ""
            while True:
                got = await get(start, end, {"cursor": cursor} if cursor else {})
                cursor = _cursor(got)
                if not add(got) or not cursor:
                    break
            start = end + 1
            continue
        got = await get(start, end, {})
        add(got)
        if len(got) < page:
            start = end + 1
            continue
        last = max(int(t.get("timestamp") or 0) for t in got)
        # a full page: the rest starts at its last trade's time (repeats dropped by id); a page
        # of one millisecond only cannot move on by time, so the next starts 1 ms later
        start = last if last > start else start + 1
    return sorted(seen.values(), key=lambda t: (int(t.get("timestamp") or 0), str(t.get("id"))))


def trade_fields(t: dict) -> tuple[float, float, float, bool | None, int]:
    """(qty, price, fee paid, maker (None: unknown), ts_ms) of a ccxt trade."""
    fee = (t.get("fee") or {}).get("cost")
    tom = t.get("takerOrMaker")
    maker = None if tom is None else tom == "maker"
    return (float(t.get("amount") or 0.0), float(t.get("price") or 0.0),
            float(fee or 0.0), maker, int(t.get("timestamp") or 0))


def ledger_step(psize: list[float], pprice: list[float], j: int, close: bool, qty: float,
                price: float, order_kind: str | None = None) -> tuple[float, str]:
    """Advance side `j` (0 long, 1 short) of the ledger in place by one fill; (realized pnl
    before fee, journal kind). An entry is an initial entry when the side was flat at its
    order's first execution (`fills.fill_kind_nb`, the backtest's and the exchange's naming):
    `order_kind`, the kind of that first execution, names the order's later parts alike."""
    before, entry = psize[j], pprice[j]
    if close:
        sign = 1.0 if j == 0 else -1.0
        pnl = sign * min(qty, before) * (price - entry) if entry > 0 else 0.0
        psize[j] = max(0.0, before - qty)
        if psize[j] <= EPS:
            psize[j], pprice[j] = 0.0, 0.0
        return pnl, "close"
    psize[j] = before + qty
    pprice[j] = (before * entry + qty * price) / psize[j]
    return 0.0, order_kind or ("initial_entry" if before <= EPS else "reentry")


class EntryKinds:
    """The kind of each entry order's first execution, by order id (bounded), so that every
    part of a partially filled order is journaled as the one fill the backtest books."""

    def __init__(self, keep: int = 4096) -> None:
        self._kinds: dict[str, str] = {}
        self._keep = keep

    def get(self, order_id: str) -> str | None:
        return self._kinds.get(order_id) if order_id else None

    def remember(self, order_id: str, kind: str) -> None:
        if order_id and kind != "close" and order_id not in self._kinds:
            self._kinds[order_id] = kind
            if len(self._kinds) > self._keep:
                for k in list(self._kinds)[: self._keep // 2]:
                    del self._kinds[k]
