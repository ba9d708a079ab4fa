"""The account's trade history as the venues page it (pure; the REST front-ends answer with it).

Binance `GET /fapi/v1/userTrades` (USDT-M "Account Trade List"): `limit` default 500, at most
1000; `startTime`..`endTime` at most 7 days apart (-1127 "Lookup interval is too big."); only
`startTime`: that day plus 7 days; only `endTime`: the 7 days before it; neither: the last 7
days, the most recent `limit` trades; `fromId` (trade id, ascending from it) cannot be sent with
a time (-1128 "Combination of optional parameters invalid."). Pages are in ascending time: the
first `limit` trades of the window, so a client pages by moving `startTime` to its last trade.

Bybit `GET /v5/execution/list`: `limit` 1..100, default 50; the same 7-day rule (only
`startTime`: +7 days, only `endTime`: -7 days, neither: the last 7 days; more than 7 days apart:
10001); newest first; `nextPageCursor` ("" on the last page) is passed back as `cursor` for the
next (older) page of the same query. Our cursor is the sequence number of the last row sent, so
a page stays right while new executions arrive.

Rows are the emulator's fill dicts (`core.Account.fills`: `timestamp`, `n` = sequence number).
"""

from __future__ import annotations

WEEK_MS = 7 * 24 * 3600 * 1000


class PageError(ValueError):
    """A request the venue refuses; `kind`: "interval" (window over 7 days), "combination",
    "param" (a number that is not one)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind


def _int(p: dict, key: str) -> int | None:
    v = p.get(key)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise PageError("param", f"{key} must be an integer") from None


def window(p: dict, now_ms: int) -> tuple[int, int]:
    """[start, end] in ms by the shared 7-day rule of both venues."""
    start, end = _int(p, "startTime"), _int(p, "endTime")
    if start is None and end is None:
        return now_ms - WEEK_MS, now_ms
    if end is None:
        return start, start + WEEK_MS
    if start is None:
        return end - WEEK_MS, end
    if end - start > WEEK_MS or end < start:
        raise PageError("interval", "startTime..endTime must be within 7 days")
    return start, end


def binance_page(fills: list, p: dict, now_ms: int) -> list:
    """The fills a userTrades request answers, in ascending time (see module doc)."""
    limit = max(1, min(1000, _int(p, "limit") or 500))
    from_id = _int(p, "fromId")
    order_id = _int(p, "orderId")
    rows = [f for f in fills if order_id is None or f["order_id"] == order_id]
    if from_id is not None:
        if p.get("startTime") is not None or p.get("endTime") is not None:
            raise PageError("combination", "fromId cannot be sent with startTime or endTime")
        return [f for f in rows if f["n"] + 1 >= from_id][:limit]
    start, end = window(p, now_ms)
    rows = [f for f in rows if start <= f["timestamp"] <= end]
    if p.get("startTime") is None and p.get("endTime") is None:
        return rows[-limit:]  # the most recent ones
    return rows[:limit]


def bybit_page(fills: list, p: dict, now_ms: int) -> tuple[list, str]:
    """(rows newest first, nextPageCursor) an execution/list request answers."""
    limit = max(1, min(100, _int(p, "limit") or 50))
    start, end = window(p, now_ms)
    rows = [f for f in fills if start <= f["timestamp"] <= end]
    if p.get("orderId"):
        rows = [f for f in rows if str(f["order_id"]) == str(p["orderId"])]
    if p.get("execType") not in (None, "", "Trade"):
        rows = []  # funding and other non-trade executions are not fills
    return cursor_page(rows[::-1], p, limit, "n")


def cursor_page(rows: list, p: dict, limit: int, tag: str) -> tuple[list, str]:
    """Bybit's cursor paging of rows newest first: (the page, nextPageCursor). The cursor names
    the last row's sequence number `n` ("tag:n"), so a page is stable while rows are added."""
    cursor = p.get("cursor")
    if cursor:
        try:
            before = int(str(cursor).split(":")[-1])
        except ValueError:
            raise PageError("param", "cursor invalid") from None
        rows = [r for r in rows if r["n"] < before]
    page = rows[:limit]
    return page, (f"{tag}:{page[-1]['n']}" if len(rows) > limit else "")
