"""Bybit v5 websockets: public `/v5/public/linear` and private `/v5/private` (auth, acks).

Public topics: `kline.1.SYMBOL` (closed candle, `confirm: true`), `tickers.SYMBOL`,
`publicTrade.SYMBOL`. Private topics: `order`, `execution`, `position`, `wallet`.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from aiohttp import web

from passivbot.emulator import core
from passivbot.emulator.binance_rest import s
from passivbot.records import LONG, SHORT


def funding_execution_json(acc: core.Account, side: int, pay: float, rate: float,
                           mark: float) -> dict:
    """A funding settlement as Bybit's execution stream reports it: execType Funding, no
    order, execQty the position size, execPrice the mark, execFee what was paid (negative:
    received), feeRate the funding rate; side the position's (Buy: long). ccxt.pro's
    watchMyTrades drops it by default (its execType filter is Trade, AdlTrade, BustTrade,
    Settle): the wallet update that follows carries the balance."""
    pos, now = acc.positions[side], acc.now_ms()
    return {"category": "linear", "symbol": acc.spec.symbol, "orderId": "", "orderLinkId": "",
            "side": "Buy" if side == LONG else "Sell", "orderPrice": "0", "orderQty": "0",
            "leavesQty": "0", "createType": "", "orderType": "UNKNOWN",
            "stopOrderType": "UNKNOWN", "execFee": s(pay), "execId": f"funding-{now}-{side}",
            "execPrice": s(mark), "execQty": s(pos.size), "execType": "Funding",
            "execValue": s(pos.size * mark), "execTime": str(now), "isMaker": False,
            "feeRate": s(rate), "tradeIv": "", "markIv": "", "markPrice": s(mark),
            "indexPrice": "", "underlyingPrice": "", "blockTradeId": "", "closedSize": "0",
            "seq": acc.clock, "execPnl": "0"}


class BybitWs:
    def __init__(self, emu) -> None:
        self.emu = emu
        self.acc = emu.account
        self.trade_id = 0
        self.book_id = 0

    def register(self, r: web.UrlDispatcher) -> None:
        r.add_get(r"/v5/public/{cat:linear|spot|inverse|option}", self.public)
        r.add_get("/v5/private", self.private)

    async def public(self, req):
        return await self.emu.serve_ws(req, "public", self.on_message)

    async def private(self, req):
        return await self.emu.serve_ws(req, "private", self.on_message)

    def on_message(self, conn, data: dict) -> None:
        op, rid = data.get("op"), data.get("req_id")
        conn_id = str(id(conn))
        if op == "ping":
            if conn.kind == "private":
                conn.send({"req_id": rid, "op": "pong", "args": [str(self.acc.now_ms())],
                           "conn_id": conn_id})
            else:
                conn.send({"success": True, "ret_msg": "pong", "conn_id": conn_id,
                           "req_id": rid, "op": "ping"})
        elif op == "auth":
            ok = self.check_auth(data.get("args") or [])
            conn.authed = ok
            conn.send({"success": ok, "ret_msg": "" if ok else "Invalid sign", "op": "auth",
                       "conn_id": conn_id, "req_id": rid})
        elif op in ("subscribe", "unsubscribe"):
            args = data.get("args") or []
            ok = conn.kind == "public" or conn.authed
            if ok and op == "subscribe":
                conn.topics.update(args)
            elif ok:
                conn.topics.difference_update(args)
            conn.send({"success": ok, "ret_msg": "" if ok else "Request not authorized",
                       "conn_id": conn_id, "req_id": rid, "op": op})
            if ok and op == "subscribe":
                for topic in args:
                    self._book_snapshot(conn, str(topic))

    def _book_snapshot(self, conn, topic: str) -> None:
        """Bybit answers an `orderbook.1.SYM` subscription with the book's snapshot at once, so a
        client that reconnects knows the book before the next change (the fault campaign's
        `ws_drop`: a bot that resubscribed held a stale book until the next minute)."""
        if not topic.startswith("orderbook.1."):
            return
        acc = self.emu.accounts.get(topic[len("orderbook.1."):])
        bid, ask = (getattr(acc, "bid", None), getattr(acc, "ask", None)) if acc else (None, None)
        if not bid or not ask or bid != bid or ask != ask:  # no book yet (or NaN)
            return
        now = acc.now_ms()
        conn.send({"topic": topic, "type": "snapshot", "ts": now, "cts": now,
                   "data": {"s": acc.spec.symbol, "b": [[s(bid), "1"]], "a": [[s(ask), "1"]],
                            "u": self.book_id, "seq": self.book_id}})

    def check_auth(self, args: list) -> bool:
        if self.emu.api_key is None:
            return True
        if len(args) != 3 or args[0] != self.emu.api_key:
            return False
        want = hmac.new(self.emu.api_secret.encode(), f"GET/realtime{args[1]}".encode(),
                        hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, str(args[2]))

    # -- events --------------------------------------------------------------------------
    def _publish(self, topic: str, msg: dict) -> None:
        for c in self.emu.conns:
            if topic in c.topics:
                c.send(msg)

    def _private(self, topic: str, data: list) -> None:
        self._publish(topic, {"id": uuid.uuid4().hex, "topic": topic,
                              "creationTime": self.acc.now_ms(), "data": data})

    def on_event(self, kind: str, payload: dict) -> None:
        rest = self.emu.rest
        self.acc = rest.acc = payload.get("acc") or self.emu.account  # the symbol's book
        if kind == "order":
            o: core.Order = payload["order"]
            row = rest.order_json(o)
            if o.status == "CANCELED" and o.post_only and o.filled == 0 and \
                    o.updated_ms == o.created_ms and o.order_type == "LIMIT" and \
                    payload["exec"] == "CANCELED" and self._would_take(o):
                row.update(cancelType="CancelByUser", rejectReason="EC_PostOnlyWillTakeLiquidity")
            self._private("order", [row])
            if payload["fill"] is not None:
                self._private("execution", [rest.execution_json(payload["fill"])])
        elif kind == "account" and payload["reason"] == "FUNDING_FEE":
            # Bybit settles funding as one execution per position (execType Funding, execFee
            # the amount paid, negative when received) and a wallet update
            self._private("execution", [funding_execution_json(self.acc, side, pay, payload["rate"],
                                                         payload["mark"])
                                        for side, pay in payload["funding"]])
            self._private("wallet", [rest.wallet_json()])
        elif kind == "account":
            self._private("position", [rest.position_json(LONG), rest.position_json(SHORT)]
                          if self.acc.hedge_mode else rest.positions_list())
            self._private("wallet", [rest.wallet_json()])
        elif kind == "kline":
            self._kline(payload["index"])
        elif kind == "tick":
            self._tick(payload)

    def _tick(self, t: dict) -> None:
        """Realistic mode: one point of the candle's path, the topics due at it."""
        sym, topics, now = self.acc.spec.symbol, t["topics"], self.acc.now_ms()
        i = t["index"]
        if "orderbook" in topics:
            self.book_id += 1
            self._publish(f"orderbook.1.{sym}", {
                "topic": f"orderbook.1.{sym}", "type": "snapshot", "ts": now, "cts": now,
                "data": {"s": sym, "b": [[s(t["bid"]), "1"]], "a": [[s(t["ask"]), "1"]],
                         "u": self.book_id, "seq": self.book_id}})
        if "tickers" in topics:
            self._publish(f"tickers.{sym}", {"topic": f"tickers.{sym}", "type": "snapshot",
                                             "data": self.emu.rest.ticker(self.acc.candles[i]),
                                             "cs": self.book_id, "ts": now})
        if "kline" in topics:
            st = int(self.acc.candles[i, 0])
            self._publish(f"kline.1.{sym}", {
                "topic": f"kline.1.{sym}", "type": "snapshot", "ts": now,
                "data": [{"start": st, "end": st + 59_999, "interval": "1",
                          "open": s(t["open"]), "close": s(t["price"]), "high": s(t["high"]),
                          "low": s(t["low"]), "volume": "0", "turnover": "0",
                          "confirm": False, "timestamp": now}]})
        if "trade" in topics:
            self.trade_id += 1
            side = "Sell" if t["price"] == t["bid"] else "Buy"
            self._publish(f"publicTrade.{sym}", {
                "topic": f"publicTrade.{sym}", "type": "snapshot", "ts": now,
                "data": [{"T": now, "s": sym, "S": side, "v": "0.01", "p": s(t["price"]),
                          "L": "ZeroPlusTick", "i": str(self.trade_id), "BT": False}]})

    def _would_take(self, o: core.Order) -> bool:
        return self.acc.crosses(o.is_buy, o.price)

    def _kline(self, i: int) -> None:
        c, sym = self.acc.candles[i], self.acc.spec.symbol
        now, t = self.acc.now_ms(), int(c[0])
        self._publish(f"kline.1.{sym}", {"topic": f"kline.1.{sym}", "type": "snapshot", "ts": now,
                                         "data": [{"start": t, "end": t + 59_999, "interval": "1",
                                                   "open": s(c[1]), "close": s(c[4]),
                                                   "high": s(c[2]), "low": s(c[3]),
                                                   "volume": s(c[5]), "turnover": s(c[5] * c[4]),
                                                   "confirm": True, "timestamp": now}]})
        self._publish(f"tickers.{sym}", {"topic": f"tickers.{sym}", "type": "snapshot",
                                         "data": self.emu.rest.ticker(c), "cs": i, "ts": now})
        self.trade_id += 1
        self._publish(f"publicTrade.{sym}", {
            "topic": f"publicTrade.{sym}", "type": "snapshot", "ts": now,
            "data": [{"T": now - 1, "s": sym, "S": "Buy", "v": s(c[5]), "p": s(c[4]),
                      "L": "ZeroPlusTick", "i": str(self.trade_id), "BT": False}]})


