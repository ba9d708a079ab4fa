"""Binance USDT-M websockets: market streams (SUBSCRIBE + acks) and the listenKey user stream.

ccxt 4.5 opens `/market/ws/<n>` (kline, tickers), `/public/ws/<n>` (trades, depth) and
`/private/ws?listenKey=K` (user data); older paths `/ws` and `/ws/<listenKey>` work too.
Messages are raw stream payloads, as on a single-stream `/ws` connection; a combined stream
(`/stream?streams=ethusdt@kline_1m/btcusdt@kline_1m`) gets them wrapped as Binance does,
`{"stream": NAME, "data": PAYLOAD}`. Several symbols (one account): every stream carries its
symbol in its name, as on Binance.
"""

from __future__ import annotations

from aiohttp import web

from passivbot.emulator import core
from passivbot.emulator.binance_rest import SIDE_NAME, s
from passivbot.records import LONG


class BinanceWs:
    def __init__(self, emu) -> None:
        self.emu = emu
        self.acc = emu.account
        self.trade_id = 0
        self.book_id = 0
        emu.faults._expire = self.expire_listen_keys

    def register(self, r: web.UrlDispatcher) -> None:
        r.add_get(r"/{area:(market|public|private)}/ws{tail:.*}", self.handle)
        r.add_get(r"/ws{tail:.*}", self.handle)
        r.add_get(r"/stream{tail:.*}", self.handle)

    async def handle(self, req: web.Request):
        key = req.query.get("listenKey") or req.match_info.get("tail", "").strip("/")
        user = key in self.emu.rest.listen_keys
        if req.match_info.get("area") == "private" and not user:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."},
                                     status=400)

        combined = req.path.startswith("/stream") and not user
        streams = req.query.get("streams", "") if combined else ""

        def on_open(conn):
            conn.listen_key = key if user else None
            if combined:  # /stream?streams=a/b (and SUBSCRIBE there): wrapped payloads
                conn.combined = True
                conn.topics.update(t.lower() for t in streams.split("/") if t)

        return await self.emu.serve_ws(req, "user" if user else "market", self.on_message,
                                       on_open)

    def on_message(self, conn, data: dict) -> None:
        method, rid = data.get("method"), data.get("id")
        params = data.get("params") or []
        if method == "SUBSCRIBE":
            conn.topics.update(p.lower() for p in params)
            conn.send({"result": None, "id": rid})
        elif method == "UNSUBSCRIBE":
            conn.topics.difference_update(p.lower() for p in params)
            conn.send({"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send({"result": sorted(conn.topics), "id": rid})
        else:
            conn.send({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
                       "id": rid})

    async def expire_listen_keys(self, silent: bool = True) -> int:
        """`listenKeyExpired` on every user stream; then silent (open, nothing more sent: what
        Binance does) or closed; the keys are forgotten either way (keepalive: -1125)."""
        now = self.acc.now_ms()
        n = 0
        for c in list(self.emu.conns):
            if c.kind == "user" and not c.silent:
                c.send({"e": "listenKeyExpired", "E": now, "listenKey": c.listen_key})
                if silent:
                    c.silent = True
                else:
                    c.close_after_send()
                n += 1
        self.emu.rest.listen_keys.clear()
        return n

    # -- events --------------------------------------------------------------------------
    def _publish(self, topic: str | None, msg: dict) -> None:
        for c in self.emu.conns:
            if topic is None and c.kind == "user":
                c.send(msg)
            elif topic is not None and topic in c.topics:
                c.send({"stream": topic, "data": msg} if getattr(c, "combined", False) else msg)

    def on_event(self, kind: str, payload: dict) -> None:
        self.acc = payload.get("acc") or self.emu.account  # the symbol's book (several: multi)
        if kind == "order":
            self._order(payload["order"], payload["exec"], payload["fill"])
        elif kind == "account":
            self._account(payload["reason"], payload.get("funding"))
        elif kind == "kline":
            self._kline(payload["index"])
        elif kind == "tick":
            self._tick(payload)

    def _tick(self, t: dict) -> None:
        """Realistic mode: one point of the candle's path, the topics due at it."""
        sym, topics, now = self.acc.spec.symbol, t["topics"], self.acc.now_ms()
        low, i = sym.lower(), t["index"]
        c = self.acc.candles[i]
        if "bookticker" in topics:
            self.book_id += 1
            self._publish(f"{low}@bookticker", {
                "e": "bookTicker", "u": self.book_id, "s": sym, "b": s(t["bid"]), "B": "1",
                "a": s(t["ask"]), "A": "1", "T": now, "E": now})
        if "kline" in topics:
            st = int(c[0])
            self._publish(f"{low}@kline_1m", {"e": "kline", "E": now, "s": sym, "k": {
                "t": st, "T": st + 59_999, "s": sym, "i": "1m", "f": i, "L": i,
                "o": s(t["open"]), "c": s(t["price"]), "h": s(t["high"]), "l": s(t["low"]),
                "v": "0", "n": 1, "x": False, "q": "0", "V": "0", "Q": "0", "B": "0"}})
        mini = {"e": "24hrMiniTicker", "E": now, "s": sym, "c": s(t["price"]),
                "o": s(t["open"]), "h": s(t["high"]), "l": s(t["low"]), "v": "0", "q": "0"}
        if "miniticker" in topics:
            self._publish(f"{low}@miniticker", mini)
        if "ticker" in topics:
            self._publish(f"{low}@ticker", dict(mini, e="24hrTicker", p="0", P="0",
                                                w=s(t["price"]), Q="0", O=int(c[0]), C=now,
                                                F=i, L=i, n=1))
        if "trade" in topics:
            self.trade_id += 1
            m = t["price"] == t["bid"]  # sold into the bid: the buyer was the maker
            self._publish(f"{low}@trade", {"e": "trade", "E": now, "T": now, "s": sym,
                                           "t": self.trade_id, "p": s(t["price"]), "q": "0.001",
                                           "X": "MARKET", "m": m})
            self._publish(f"{low}@aggtrade", {"e": "aggTrade", "E": now, "a": self.trade_id,
                                              "s": sym, "p": s(t["price"]), "q": "0.001",
                                              "f": i, "l": i, "T": now, "m": m})

    def _order(self, o: core.Order, exec_type: str, fill: dict | None) -> None:
        now = self.acc.now_ms()
        last_qty = fill["qty"] if fill else 0.0
        if fill:
            self.trade_id += 1
        self._publish(None, {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": {
            "s": o.symbol, "c": o.client_id, "S": "BUY" if o.is_buy else "SELL",
            "o": o.order_type, "f": "GTX" if o.post_only else "GTC", "q": s(o.qty),
            "p": s(o.price), "ap": s(o.avg_price), "sp": "0", "x": exec_type, "X": o.status,
            "i": o.id, "l": s(last_qty), "z": s(o.filled), "L": s(fill["price"] if fill else 0),
            "N": "USDT", "n": s(fill["fee"] if fill else 0), "T": now,
            "t": self.trade_id if fill else 0, "b": "0", "a": "0",
            "m": bool(fill and not fill["taker"]), "R": o.reduce_only, "wt": "CONTRACT_PRICE",
            "ot": o.order_type, "ps": SIDE_NAME[o.side] if o.explicit_side else "BOTH",
            "cp": False, "rp": s(fill["pnl"] if fill else 0), "pP": False, "si": 0, "ss": 0,
            "V": "NONE", "pm": "NONE", "gtd": 0}})

    def _account(self, reason: str, funding: list | None = None) -> None:
        """ACCOUNT_UPDATE. A funding charge (reason FUNDING_FEE) is, as Binance documents it
        for a cross position, the balance alone: wallet balance and `bc` the balance change
        (the sum paid on both sides, negative when paid), no position list."""
        acc, now, last = self.acc, self.acc.now_ms(), self.acc.last_price
        if reason == "FUNDING_FEE":
            bc = -sum(pay for _, pay in funding or ())
            self._publish(None, {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
                "m": reason, "B": [{"a": "USDT", "wb": s(acc.balance), "cw": s(acc.balance),
                                    "bc": s(bc)}], "P": []}})
            return
        positions = []
        for side, pos in acc.positions.items():
            if not acc.hedge_mode and pos.size <= 0.0 and (side != LONG or positions):
                continue
            positions.append({
                "s": acc.spec.symbol, "pa": s(side * pos.size), "ep": s(pos.price),
                "bep": s(pos.price), "cr": "0", "up": s(side * pos.size * (last - pos.price)),
                "mt": "cross", "iw": "0",
                "ps": SIDE_NAME[side] if acc.hedge_mode else "BOTH"})
        if not acc.hedge_mode and len(positions) > 1:
            positions = [p for p in positions if p["pa"] != "0"]
        self._publish(None, {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": reason, "B": [{"a": "USDT", "wb": s(acc.balance), "cw": s(acc.balance),
                                "bc": "0"}], "P": positions}})

    def _kline(self, i: int) -> None:
        c, sym = self.acc.candles[i], self.acc.spec.symbol
        now = self.acc.now_ms()
        t = int(c[0])
        low = sym.lower()
        self._publish(f"{low}@kline_1m", {"e": "kline", "E": now, "s": sym, "k": {
            "t": t, "T": t + 59_999, "s": sym, "i": "1m", "f": i, "L": i, "o": s(c[1]),
            "c": s(c[4]), "h": s(c[2]), "l": s(c[3]), "v": s(c[5]), "n": 1, "x": True,
            "q": s(c[5] * c[4]), "V": "0", "Q": "0", "B": "0"}})
        mini = {"e": "24hrMiniTicker", "E": now, "s": sym, "c": s(c[4]), "o": s(c[1]),
                "h": s(c[2]), "l": s(c[3]), "v": s(c[5]), "q": s(c[5] * c[4])}
        self._publish(f"{low}@miniticker", mini)
        self._publish(f"{low}@ticker", dict(mini, e="24hrTicker", p="0", P="0", w=s(c[4]),
                                            Q="0", O=t, C=now - 1, F=i, L=i, n=1))
        self.trade_id += 1
        self._publish(f"{low}@trade", {"e": "trade", "E": now, "T": now - 1, "s": sym,
                                       "t": self.trade_id, "p": s(c[4]), "q": s(c[5]),
                                       "X": "MARKET", "m": False})
        self._publish(f"{low}@aggtrade", {"e": "aggTrade", "E": now, "a": self.trade_id,
                                          "s": sym, "p": s(c[4]), "q": s(c[5]), "f": i, "l": i,
                                          "T": now - 1, "m": False})
