"""Batch order calls, answered per order: Binance POST / DELETE /fapi/v1/batchOrders, Bybit
/v5/order/create-batch and cancel-batch, through ccxt's `create_orders` / `cancel_orders`.

One HTTP request carries up to `caps.batch_create_max` creates (`batch_cancel_max` cancels);
each order in it succeeds or fails on its own. What ccxt 4.5 returns: a list of orders where
a failed create has status "rejected" and its `{"code", "msg"}` in `info` (Binance: nothing
else, not even its client id; Bybit: its client id and the code merged in), sorted by
timestamp (the failed rows, which have none, first, in request order); a failed cancel has no
row at all (Binance: dropped by the symbol filter) or a row with an empty `orderId` and no code
(Bybit). `per_order` puts each answer back on its request:
a success by its client id (creates) or order id (cancels), the failures in request order onto
the requests left. A failure with a code becomes the ccxt exception the code maps to (so
`errors.classify` decides as for a single call); one without (the request's answer is
missing, or the venue gave no code) is None: the caller treats it as "may have happened".
A failure of the whole request raises, as a single call does.
"""

from __future__ import annotations

import json

import ccxt

from passivbot.records import LONG


async def create_orders(adapter, orders: list[tuple]) -> list:
    """`orders`: (side, close, qty, price, client_id) tuples, at most caps.batch_create_max.
    Returns, per order in that order, the ccxt order, a ccxt exception, or None."""
    reqs = []
    for side, close, qty, price, cid in orders:
        is_buy = (side == LONG) != close
        reqs.append({"symbol": adapter.symbol, "type": "limit", "side": "buy" if is_buy
                     else "sell", "amount": qty, "price": price,
                     "params": adapter.grid_order_params(side, close, cid)})
    got = await adapter.ex.create_orders(reqs)
    return per_order(adapter, got, [o[4] for o in orders], "clientOrderId")


async def cancel_orders(adapter, ids: list[str]) -> list:
    """Cancel `ids` (at most caps.batch_cancel_max); per id: the ccxt order, an exception or
    None (see the module doc)."""
    got = await adapter.ex.cancel_orders(list(ids), adapter.symbol)
    return per_order(adapter, got, [str(i) for i in ids], "id")


def _failed(o: dict) -> bool:
    code = (o.get("info") or {}).get("code") if isinstance(o.get("info"), dict) else None
    return o.get("status") == "rejected" or str(code) not in ("None", "0", "200")


def per_order(adapter, got: list, keys: list[str], field: str) -> list:
    """ccxt's answer to a batch -> one entry per requested key (module doc)."""
    out: list = [None] * len(keys)
    index = {k: i for i, k in enumerate(keys)}
    done = [False] * len(keys)
    failures = []
    for o in got or []:
        i = index.get(str(o.get(field) or ""))
        if i is not None and not done[i]:
            done[i] = True
            out[i] = to_error(adapter, o) if _failed(o) else o
        else:  # a failure without its key: paired below, in request order
            failures.append(o)
    rest = [i for i in range(len(keys)) if not done[i]]
    for i, o in zip(rest, failures):
        out[i] = to_error(adapter, o)
    return out


def to_error(adapter, o: dict) -> BaseException | None:
    """The ccxt exception a failed batch row's code maps to; None when it has no code."""
    info = o.get("info") if isinstance(o.get("info"), dict) else {}
    code, msg = info.get("code"), info.get("msg")
    if code is None or str(code) in ("0", "200"):
        return None
    ex = adapter.ex
    try:
        code = int(code)
    except (TypeError, ValueError):
        pass
    feedback = f"{ex.id} {json.dumps({'code': code, 'msg': msg})}"
    key = adapter.caps.batch_error_url
    try:
        if key and hasattr(ex, "get_exceptions_by_url"):
            url = str(ex.urls["api"].get(key, ""))
            ex.throw_exactly_matched_exception(ex.get_exceptions_by_url(url, "exact"),
                                               str(code), feedback)
        ex.throw_exactly_matched_exception(ex.exceptions["exact"], str(code), feedback)
        ex.throw_broadly_matched_exception(ex.exceptions["broad"], str(msg), feedback)
    except ccxt.BaseError as e:
        return e
    return ccxt.ExchangeError(feedback)
