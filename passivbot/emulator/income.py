"""The funding the account was charged, as the venues' account history lists it (pure; the REST
front-ends answer with it). Rows come from `core.Account.funding_log` (one per position charged
at a funding event: time = the event's ms, side, pay > 0 = paid, rate, mark, size), so what the
endpoints serve is exactly what the emulator charged.

Binance `GET /fapi/v1/income` ("Get Income History", weight 30): `symbol` optional (none: every
symbol), `incomeType` (FUNDING_FEE; absent: every kind, and the emulator books no other kind, so
the funding rows; any other kind: none), `startTime` / `endTime` inclusive, `limit` default 100,
at most 1000, `page` (1-based); ascending time; with a `startTime` the first `limit` rows from
it, without one the most recent `limit`; neither time: the last 7 days. Row: `symbol`,
`incomeType` "FUNDING_FEE", `income` (signed: positive = received), `asset`, `info`, `time`,
`tranId`, `tradeId` "". No position side: a hedge-mode account gets one row per position.

Bybit `GET /v5/execution/list?execType=Funding`: one execution per position charged,
`execFee` the payment (positive = paid, negative = received), `feeRate` the funding rate,
`execPrice` / `markPrice` the mark, `execQty` the position size, `side` the position's (Buy:
long), `execTime` the event's time; the 7-day window, `limit` 1..100 (default 50), newest first
and `nextPageCursor` as for trades (`emulator.history`).
"""

from __future__ import annotations

from passivbot.emulator.history import PageError, _int, cursor_page, window
from passivbot.records import LONG

INCOME_TYPE = "FUNDING_FEE"


def _s(x: float) -> str:
    return f"{x:.10f}".rstrip("0").rstrip(".") if x else "0"


def funding_rows(books: list, symbols: list[str]) -> list[dict]:
    """Every funding charge of `books` (accounts) in time order, with `n` its rank in this
    answer (Bybit's cursor) and `tran_id` a row id that does not depend on the query: one
    funding time, one symbol (its place in `symbols`, the emulator's), one side."""
    rows = []
    for b in books:
        k = symbols.index(b.spec.symbol)
        for i, e in enumerate(b.funding_log):
            rows.append({**e, "symbol": b.spec.symbol, "book": k, "i": i})
    rows.sort(key=lambda r: (r["time"], r["book"], r["i"]))
    for n, r in enumerate(rows):
        r["n"] = n + 1
        r["tran_id"] = int(r["time"]) // 1000 * 1000 + 2 * r["book"] + (r["side"] != LONG)
    return rows


def binance_income(rows: list[dict], p: dict, now_ms: int) -> list[dict]:
    """The rows a `/fapi/v1/income` request answers (see module doc). PageError("param") for a
    number that is not one."""
    limit = max(1, min(1000, _int(p, "limit") or 100))
    page = max(1, _int(p, "page") or 1)
    kind = p.get("incomeType")
    if kind not in (None, "", INCOME_TYPE):
        return []
    start, end = _int(p, "startTime"), _int(p, "endTime")
    lo, hi = start, end
    if start is None and end is None:
        lo, hi = now_ms - 7 * 86_400_000, now_ms
    got = [r for r in rows if (lo is None or r["time"] >= lo) and (hi is None or r["time"] <= hi)]
    if start is None:  # the most recent `limit`, then older pages
        hi = len(got) - (page - 1) * limit
        got = got[max(0, hi - limit):max(0, hi)]
    else:
        got = got[(page - 1) * limit:page * limit]
    return [{"symbol": r["symbol"], "incomeType": INCOME_TYPE, "income": _s(-r["pay"]),
             "asset": "USDT", "info": INCOME_TYPE, "time": int(r["time"]),
             "tranId": r["tran_id"], "tradeId": ""} for r in got]


def bybit_funding(rows: list[dict], p: dict, now_ms: int) -> tuple[list[dict], str]:
    """(execution rows newest first, nextPageCursor) of `/v5/execution/list?execType=Funding`."""
    limit = max(1, min(100, _int(p, "limit") or 50))
    start, end = window(p, now_ms)
    got = [r for r in rows if start <= r["time"] <= end][::-1]
    if p.get("orderId"):
        got = []  # a funding execution belongs to no order
    page, cursor = cursor_page(got, p, limit, "f")
    return [bybit_row(r) for r in page], cursor


def bybit_row(r: dict) -> dict:
    """One funding execution in Bybit's field names (`bybit_ws.funding_execution_json`'s shape)."""
    mark, size = float(r["mark"]), float(r["size"])
    name = "long" if r["side"] == LONG else "short"
    return {"category": "linear", "symbol": r["symbol"], "orderId": "", "orderLinkId": "",
            "side": "Buy" if r["side"] == LONG else "Sell", "orderPrice": "0", "orderQty": "0",
            "leavesQty": "0", "createType": "", "orderType": "UNKNOWN",
            "stopOrderType": "UNKNOWN", "execFee": _s(r["pay"]), "feeCurrency": "USDT",
            "execId": f"funding-{int(r['time'])}-{r['symbol']}-{name}",
            "execPrice": _s(mark), "execQty": _s(size), "execType": "Funding",
            "execValue": _s(size * mark), "execTime": str(int(r["time"])), "isMaker": False,
            "feeRate": _s(r["rate"]), "tradeIv": "", "markIv": "", "markPrice": _s(mark),
            "indexPrice": "", "underlyingPrice": "", "blockTradeId": "", "closedSize": "0",
            "seq": r["n"], "execPnl": "0", "marketUnit": ""}
