"""Bybit v5 REST (`/v5/...`, category linear, unified account) in front of the account.

Every answer carries the v5 envelope (`retCode`, `retMsg`, `result`, `retExtInfo`, `time`);
errors are HTTP 200 with a non-zero `retCode`, as Bybit sends them, which ccxt maps to its
exception classes. The unified-account checks ccxt makes with credentials (`query-api`,
`account/info`, `coin/query-info`) get minimal valid answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from aiohttp import web

from passivbot.emulator import core, guards, history, income
from passivbot.emulator.binance_rest import s
from passivbot.margin import hedged_liq_price_nb
from passivbot.records import LONG, SHORT

ERRORS = {  # reject code -> (retCode, retMsg)
    core.R_MARGIN: (110007, "ab not enough for new order"),
    core.R_UNKNOWN_ORDER: (110001, "order not exists or too late to cancel"),
    core.R_REDUCE_ONLY: (110017, "current position is zero, cannot fix reduce-only order qty"),
    core.R_BAD_SYMBOL: (10001, "params error: symbol invalid"),
    core.R_DUPLICATE_CID: (110072, "OrderLinkedID is duplicate"),
    core.R_PRICE_STEP: (10001, "params error: price invalid, tick size"),
    core.R_QTY_STEP: (10001, "params error: Qty invalid"),
    core.R_MIN_NOTIONAL: (110094, "Order does not meet minimum order value {}USDT"),
    core.R_POSITION_SIDE: (10001, "position idx not match position mode"),
    core.R_REJECTED: (110020, "number of active orders greater than 500"),
    core.R_BAD_PARAM: (10001, "params error"),
    core.R_LEVERAGE: (10001, "leverage invalid"),
    core.R_NO_CHANGE: (110025, "Position mode is not modified"),
}
STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
          "CANCELED": "Cancelled", "EXPIRED": "Deactivated"}
IDX = {LONG: 1, SHORT: 2}


class BybitRest:
    def __init__(self, emu) -> None:
        self.emu = emu
        self.acc = emu.account

    def server_ms(self) -> int:
        """The server clock every answer's `time` carries (`faults.skew_clock` included)."""
        return self.acc.now_ms() + self.emu.clock_check.skew_ms

    def ok(self, result, time_ms: int | None = None) -> web.Response:
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": result,
                                  "retExtInfo": {},
                                  "time": self.server_ms() if time_ms is None else time_ms})

    def err(self, code: str, detail: str = "") -> web.Response:
        num, msg = ERRORS[code]
        return web.json_response({"retCode": num, "retMsg": msg.format(detail), "result": {},
                                  "retExtInfo": {}, "time": self.server_ms()})

    def http_error(self, status: int) -> web.Response:
        """The answer of an injected HTTP error (faults.http_errors): a 418/429 is retCode
        10006; its `retry_after` becomes the reset timestamp, relative to the answer's time."""
        if status in (418, 429):
            now, wait = self.server_ms(), self.emu.faults.http_retry_after
            headers = ({} if wait is None else
                       {"X-Bapi-Limit-Reset-Timestamp": str(now + round(wait * 1000))})
            return web.json_response({"retCode": 10006, "retMsg": "Too many visits!",
                                      "result": {}, "retExtInfo": {}, "time": now},
                                     status=status, headers=headers)
        return web.Response(status=status, text="<html>Bad Gateway</html>",
                            content_type="text/html")

    def register(self, r: web.UrlDispatcher) -> None:
        get, post = r.add_get, r.add_post
        get("/v5/market/time", self.time)
        get("/v5/market/instruments-info", self.instruments)
        get("/v5/market/kline", self.kline)
        get("/v5/market/risk-limit", self.risk_limit)
        get("/v5/market/tickers", self.tickers)
        get("/v5/market/orderbook", self.orderbook)
        get("/v5/account/wallet-balance", self.wallet)
        get("/v5/position/list", self.positions)
        get("/v5/order/realtime", self.realtime)
        get("/v5/order/history", self.history)
        get("/v5/execution/list", self.executions)
        post("/v5/order/create", self.create)
        post("/v5/order/cancel", self.cancel)
        post("/v5/order/cancel-all", self.cancel_all)
        post("/v5/order/create-batch", self.create_batch)
        post("/v5/order/cancel-batch", self.cancel_batch)
        post("/v5/position/set-leverage", self.leverage)
        post("/v5/position/switch-mode", self.switch_mode)
        post("/v5/position/switch-isolated", self.noop)
        get("/v5/user/query-api", self.query_api)
        get("/v5/account/info", self.account_info)
        get("/v5/asset/coin/query-info", self.coins)

    async def guard(self, req: web.Request, name: str) -> tuple[web.Response | None, dict]:
        """Rate limits and the recvWindow clock check (emulator.guards): (refusal, headers)."""
        return await guards.bybit_guard(self, req, name)

    async def authorize(self, req: web.Request) -> web.Response | None:
        """With a key pair configured, check the v5 HMAC of signed requests (10004 if bad)."""
        h = req.headers
        if self.emu.api_key is None or "X-BAPI-API-KEY" not in h:
            return None
        body = await req.text() if req.body_exists else ""
        payload = h.get("X-BAPI-TIMESTAMP", "") + h["X-BAPI-API-KEY"] + h.get(
            "X-BAPI-RECV-WINDOW", "") + (body if req.method == "POST" else req.query_string)
        want = hmac.new(self.emu.api_secret.encode(), payload.encode(),
                        hashlib.sha256).hexdigest()
        if h["X-BAPI-API-KEY"] == self.emu.api_key and h.get("X-BAPI-SIGN") == want:
            return None
        return web.json_response({"retCode": 10004, "retMsg": "error sign! origin_string["
                                  f"{payload}]", "result": {}, "retExtInfo": {}, "time": 0})

    async def params(self, req: web.Request) -> dict:
        p = dict(req.query)
        body = await req.text() if req.body_exists else ""
        if body:
            try:
                p.update(json.loads(body))
            except ValueError:
                pass
        return p

    def bad_symbol(self, p: dict) -> bool:
        """Whether the request names a symbol this account does not trade; else its book
        becomes `self.acc` until the next request (handlers do not await after this)."""
        acc = self.emu.accounts.get(p.get("symbol", self.emu.symbol))
        if acc is None:
            return True
        self.acc = acc
        return False

    def books(self, p: dict) -> list:
        """The books a request is about: its symbol's, or every symbol's (settleCoin)."""
        return [self.acc] if "symbol" in p else list(self.emu.accounts.values())

    # -- market ----------------------------------------------------------------------------
    async def time(self, req):
        now = self.emu.clock_check.served()
        return self.ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)

    async def instruments(self, req):
        from passivbot.markets import MARKETS
        p = await self.params(req)
        rows = []
        if p.get("status") not in ("PreLaunch",) and p.get("category", "linear") == "linear":
            listed = {**MARKETS, **{("bybit", k): v for k, v in self.emu.specs.items()}}
            for (ex, sym), spec in listed.items():
                if ex != "bybit" or p.get("symbol", sym) != sym:
                    continue
                rows.append({
                    "symbol": sym, "contractType": "LinearPerpetual", "status": "Trading",
                    "baseCoin": spec.base, "quoteCoin": spec.quote, "settleCoin": spec.quote,
                    "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
                    "priceScale": "2", "unifiedMarginTrade": True, "fundingInterval": 480,
                    "copyTrading": "both", "upperFundingRate": "0.005",
                    "lowerFundingRate": "-0.005", "isPreListing": False, "preListingInfo": None,
                    "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{spec.max_leverage}.00",
                                       "leverageStep": "0.01"},
                    "priceFilter": {"minPrice": s(spec.price_step), "maxPrice": "199999.98",
                                    "tickSize": s(spec.price_step)},
                    "lotSizeFilter": {"maxOrderQty": "7000", "maxMktOrderQty": "7000",
                                      "minOrderQty": s(spec.min_qty), "qtyStep": s(spec.qty_step),
                                      "postOnlyMaxOrderQty": "7000",
                                      "minNotionalValue": s(spec.min_cost)},
                })
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    async def kline(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        c = self.acc.candles[: self.acc.clock]
        limit = max(1, min(int(p.get("limit", 200)), 1000))
        ts = c[:, 0]
        hi = int(ts.searchsorted(float(p["end"]), side="right")) if "end" in p else len(c)
        if "start" in p:
            lo = int(ts.searchsorted(float(p["start"])))
            rows = c[lo: min(lo + limit, hi)]
        else:
            rows = c[max(hi - limit, 0): hi]
        out = [[str(int(r[0])), s(r[1]), s(r[2]), s(r[3]), s(r[4]), s(r[5]), s(r[5] * r[4])]
               for r in rows[::-1]]
        return self.ok({"symbol": self.acc.spec.symbol, "category": "linear", "list": out})

    async def risk_limit(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        rows = []
        for spec in (b.spec for b in self.books(p)):
            for i, t in enumerate(spec.tiers):
                cap = t.notional_cap if t.notional_cap != float("inf") else 1e12
                rows.append({"id": i + 1, "symbol": spec.symbol, "riskLimitValue": s(cap),
                             "maintenanceMargin": s(t.mmr),
                             "initialMargin": s(1 / t.max_leverage),
                             "isLowestRisk": int(i == 0), "maxLeverage": f"{t.max_leverage}.00",
                             "mmDeduction": s(t.maint_amount)})
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    async def tickers(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        rows = []
        for b in self.books(p):
            self.acc = b
            rows.append(self.ticker(b.candles[max(b.clock - 1, 0)]))
        return self.ok({"category": "linear", "list": rows})

    async def orderbook(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        acc = self.acc
        last = acc.last_price
        bid, ask = (acc.bid, acc.ask) if acc.realistic and acc.ask > 0 else (last, last)
        return self.ok({"s": acc.spec.symbol, "b": [[s(bid), "1"]], "a": [[s(ask), "1"]],
                        "ts": acc.now_ms(), "u": 1, "seq": 1, "cts": acc.now_ms()})

    def ticker(self, c) -> dict:
        """The ticker: the last close (minute mode) or the path's tick and book (realistic)."""
        acc = self.acc
        last = acc.last_price
        bid, ask = (acc.bid, acc.ask) if acc.realistic and acc.ask > 0 else (last, last)
        return {"symbol": acc.spec.symbol, "lastPrice": s(last), "markPrice": s(last),
                "indexPrice": s(last), "highPrice24h": s(c[2]), "lowPrice24h": s(c[3]),
                "prevPrice24h": s(c[1]), "volume24h": s(c[5]), "turnover24h": s(c[5] * c[4]),
                "price24hPcnt": "0", "bid1Price": s(bid), "ask1Price": s(ask),
                "bid1Size": "1", "ask1Size": "1", "fundingRate": "0.0001",
                "nextFundingTime": "0", "openInterest": "0"}

    # -- account ---------------------------------------------------------------------------
    def wallet_json(self) -> dict:
        acc = self.acc
        up, im = acc.upnl(), acc.initial_margin()
        eq = acc.balance + up
        coin = {"coin": "USDT", "equity": s(eq), "usdValue": s(eq), "walletBalance":
                s(acc.balance), "unrealisedPnl": s(up), "cumRealisedPnl": s(
                    sum(f["pnl"] for f in acc.fills)), "totalOrderIM": "0",
                "totalPositionIM": s(im), "totalPositionMM": "0", "locked": "0",
                "availableToWithdraw": s(max(acc.available(), 0.0)), "availableToBorrow": "",
                "bonus": "0", "accruedInterest": "0", "borrowAmount": "0",
                "collateralSwitch": True, "marginCollateral": True, "spotHedgingQty": "0"}
        return {"accountType": "UNIFIED", "totalEquity": s(eq), "totalWalletBalance":
                s(acc.balance), "totalMarginBalance": s(eq), "totalAvailableBalance":
                s(acc.available()), "totalPerpUPL": s(up), "totalInitialMargin": s(im),
                "totalMaintenanceMargin": "0", "accountIMRate": "0", "accountMMRate": "0",
                "accountLTV": "0", "coin": [coin]}

    async def wallet(self, req):
        return self.ok({"list": [self.wallet_json()]})

    def position_json(self, side: int) -> dict:
        acc, pos, last = self.acc, self.acc.positions[side], self.acc.last_price
        lp, sp = acc.positions[LONG], acc.positions[SHORT]
        liq, _ = hedged_liq_price_nb(acc.balance, lp.size, lp.price, sp.size, sp.price,
                                     acc.spec.brackets_array(), acc.spec.mmr_add)
        now = str(acc.now_ms())
        return {"positionIdx": IDX[side] if acc.hedge_mode else 0, "riskId": 1,
                "riskLimitValue": "2000000", "symbol": acc.spec.symbol,
                "side": ("Buy" if side == LONG else "Sell") if pos.size > 0 else "",
                "size": s(pos.size), "avgPrice": s(pos.price), "entryPrice": s(pos.price),
                "positionValue": s(pos.size * pos.price), "tradeMode": 0, "autoAddMargin": 0,
                "positionStatus": "Normal", "leverage": str(acc.leverage), "markPrice": s(last),
                "liqPrice": s(liq) if pos.size > 0 and liq < 1e12 else "",
                "bustPrice": "", "positionIM": s(pos.size * pos.price / acc.leverage),
                "positionMM": "0", "positionBalance": "0", "takeProfit": "0", "stopLoss": "0",
                "trailingStop": "0", "unrealisedPnl": s(side * pos.size * (last - pos.price)),
                "curRealisedPnl": "0", "cumRealisedPnl": "0", "adlRankIndicator": 0,
                "createdTime": now, "updatedTime": now, "seq": acc.clock, "isReduceOnly": False,
                "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "tpslMode": "Full",
                "sessionAvgPrice": "", "category": "linear"}

    def positions_list(self) -> list:
        acc = self.acc
        if acc.hedge_mode:
            return [self.position_json(LONG), self.position_json(SHORT)]
        side = SHORT if acc.positions[SHORT].size > 0 else LONG
        return [self.position_json(side)]

    async def positions(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        if p.get("category", "linear") != "linear":
            return self.ok({"category": p["category"], "list": [], "nextPageCursor": ""})
        rows = []
        for b in self.books(p):
            self.acc = b
            rows += self.positions_list()
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    async def query_api(self, req):
        return self.ok({"id": "1", "note": "emulator", "apiKey": self.emu.api_key or "paper",
                        "readOnly": 0, "secret": "", "permissions": {"ContractTrade":
                        ["Order", "Position"], "Wallet": ["AccountTransfer"]}, "ips": ["*"],
                        "type": 1, "deadlineDay": 90, "expiredAt": "", "createdAt": "",
                        "unified": 0, "uta": 1, "userID": 1, "inviterID": 0, "vipLevel":
                        "No VIP", "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "",
                        "isMaster": True, "parentUid": "0"})

    async def account_info(self, req):
        return self.ok({"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN",
                        "isMasterTrader": False, "spotHedgingStatus": "OFF",
                        "updatedTime": str(self.acc.now_ms()), "dcpStatus": "OFF",
                        "timeWindow": 10, "smpGroup": 0})

    async def coins(self, req):
        return self.ok({"rows": [{"name": "USDT", "coin": "USDT", "remainAmount": "1000000",
                                  "chains": []}]})

    async def leverage(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        try:
            lev = float(p.get("buyLeverage", 0))
        except ValueError:
            return self.err(core.R_LEVERAGE)
        if int(lev) == self.acc.leverage:
            return web.json_response({"retCode": 110043, "retMsg": "leverage not modified",
                                      "result": {}, "retExtInfo": {}, "time": 0})
        r = self.acc.set_leverage(int(lev)) if lev == int(lev) else core.Reject(core.R_LEVERAGE)
        return self.err(r.code) if isinstance(r, core.Reject) else self.ok({})

    async def switch_mode(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        hedge = int(p.get("mode", 0)) == 3  # by symbol, or every symbol of a coin
        books = self.books(p)
        r = next((x for x in (b.can_set_hedge_mode(hedge) for b in books) if x is not None),
                 None)
        if r is None:
            for b in books:
                r = b.set_hedge_mode(hedge)
        return self.err(r.code) if isinstance(r, core.Reject) else self.ok({})

    async def noop(self, req):
        return self.ok({})

    # -- orders ----------------------------------------------------------------------------
    def order_json(self, o: core.Order) -> dict:
        leaves = o.qty - o.filled if o.status in ("NEW", "PARTIALLY_FILLED") else 0.0
        return {
            "orderId": str(o.id), "orderLinkId": o.client_id, "blockTradeId": "",
            "symbol": o.symbol, "price": s(o.price), "qty": s(o.qty),
            "side": "Buy" if o.is_buy else "Sell", "isLeverage": "",
            "positionIdx": IDX[o.side] if o.explicit_side else 0,
            "orderStatus": STATUS[o.status], "cancelType": "UNKNOWN" if o.status != "CANCELED"
            else "CancelByUser", "rejectReason": "EC_NoError", "avgPrice": s(o.avg_price),
            "leavesQty": s(leaves), "leavesValue": s(leaves * o.price),
            "cumExecQty": s(o.filled), "cumExecValue": s(o.filled * o.avg_price),
            "cumExecFee": "0", "timeInForce": "PostOnly" if o.post_only else "GTC",
            "orderType": o.order_type.capitalize(), "stopOrderType": "", "orderIv": "",
            "triggerPrice": "0", "takeProfit": "0", "stopLoss": "0", "tpTriggerBy": "",
            "slTriggerBy": "", "triggerDirection": 0, "triggerBy": "", "lastPriceOnCreated": "",
            "reduceOnly": o.reduce_only or o.close, "closeOnTrigger": False, "smpType": "None",
            "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "",
            "slLimitPrice": "", "placeType": "", "createdTime": str(o.created_ms),
            "updatedTime": str(o.updated_ms), "category": "linear",
        }

    def select(self, p: dict, orders) -> list:
        oid, cid = p.get("orderId"), p.get("orderLinkId")
        out = [o for o in orders if (not oid or str(o.id) == oid)
               and (not cid or o.client_id == cid)]
        return [self.order_json(o) for o in sorted(out, key=lambda o: -o.id)]

    async def realtime(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        books = self.books(p)
        orders = [o for b in books for o in b.open_orders.values()]
        if p.get("orderId") or p.get("orderLinkId"):  # v5 realtime also finds recent closed ones
            orders += [o for b in books for o in b.closed_orders.values()]
        return self.ok({"category": "linear", "list": self.select(p, orders)[:50],
                        "nextPageCursor": ""})

    async def history(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        books = self.books(p)
        orders = [o for b in books for o in list(b.closed_orders.values())
                  + list(b.open_orders.values())]
        return self.ok({"category": "linear", "list": self.select(p, orders)[:50],
                        "nextPageCursor": ""})

    def execution_json(self, f: dict) -> dict:
        o = self.acc.find(f["order_id"])
        return {"category": "linear", "symbol": self.acc.spec.symbol,
                "orderId": str(f["order_id"]),
                "orderLinkId": o.client_id if o else "", "side": "Buy" if o and o.is_buy
                else "Sell", "orderPrice": s(o.price if o else f["price"]),
                "orderQty": s(o.qty if o else f["qty"]),
                "leavesQty": s(max(o.qty - f["cum"], 0.0) if o and "cum" in f else 0.0),
                "createType": "CreateByUser", "orderType": "Limit", "stopOrderType": "",
                "execFee": s(f["fee"]), "execId": f"{f['order_id']}-{f['minute']}-{f.get('n', 0)}",
                "execPrice": s(f["price"]), "execQty": s(f["qty"]), "execType": "Trade",
                "execValue": s(f["qty"] * f["price"]), "execTime": str(f["timestamp"]),
                "isMaker": not f["taker"], "feeRate": s(f["fee"] / (f["qty"] * f["price"])),
                "tradeIv": "", "markIv": "", "markPrice": s(f["price"]), "indexPrice": "",
                "underlyingPrice": "", "blockTradeId": "", "closedSize": s(
                    f["qty"] if f["kind"] >= 2 else 0), "seq": f["minute"],
                "execPnl": s(f["pnl"])}

    async def executions(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        rows, cursor = [], ""
        try:  # the venue's paging rules (emulator.history); a cursor pages one symbol's fills
            if p.get("execType") == "Funding":  # what the account was charged (emulator.income)
                charged = income.funding_rows(self.books(p), self.emu.symbols)
                rows, cursor = income.bybit_funding(charged, p, self.acc.now_ms())
                return self.ok({"category": "linear", "list": rows, "nextPageCursor": cursor})
            for b in self.books(p):
                self.acc = b
                page, cursor = history.bybit_page(b.fills, p, b.now_ms())
                rows += [self.execution_json(f) for f in page]
        except history.PageError as e:
            return web.json_response({"retCode": 10001, "retMsg": f"params error: {e}",
                                      "result": {}, "retExtInfo": {}, "time": self.server_ms()})
        return self.ok({"category": "linear", "list": rows, "nextPageCursor": cursor})

    async def create(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        try:
            otype = str(p.get("orderType", "Limit")).upper()
            idx = int(p.get("positionIdx", 0))
            r = self.acc.place(
                is_buy=p["side"] == "Buy", qty=float(p["qty"]),
                price=float(p.get("price") or 0.0), order_type=otype,
                position_side={0: None, 1: LONG, 2: SHORT}[idx],
                reduce_only=bool(p.get("reduceOnly", False)),
                post_only=p.get("timeInForce") == "PostOnly",
                client_id=p.get("orderLinkId", ""), reject=self.emu.faults.take_reject(),
                post_only_cancels=True)
        except (KeyError, ValueError):
            return self.err(core.R_BAD_PARAM)
        if isinstance(r, core.Reject):
            self.emu.counters["orders_rejected"] += 1
            return self.err(r.code, r.detail)
        self.emu.counters["orders_created"] += 1
        return self.ok({"orderId": str(r.id), "orderLinkId": r.client_id})

    async def cancel(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        oid = int(p["orderId"]) if p.get("orderId") else None
        r = self.acc.cancel(oid, p.get("orderLinkId"))
        if isinstance(r, core.Reject):
            return self.err(r.code)
        self.emu.counters["orders_cancelled"] += 1
        return self.ok({"orderId": str(r.id), "orderLinkId": r.client_id})

    async def cancel_all(self, req):
        p = await self.params(req)
        if self.bad_symbol(p):
            return self.err(core.R_BAD_SYMBOL)
        done = [o for b in self.books(p) for o in b.cancel_all()]
        self.emu.counters["orders_cancelled"] += len(done)
        return self.ok({"list": [{"orderId": str(o.id), "orderLinkId": o.client_id}
                                 for o in done], "success": "1"})

    # -- batch orders ----------------------------------------------------------------------
    async def create_batch(self, req):
        """POST /v5/order/create-batch: `request`, at most 10 orders (linear), each under the
        single create's rules; `result.list` and `retExtInfo.list` in request order (a failed
        order: empty `orderId`, its `code` and `msg`; the others go through)."""
        return await self._batch(req, self.create)

    async def cancel_batch(self, req):
        """POST /v5/order/cancel-batch: `request`, at most 10 cancels (orderId or
        orderLinkId), each under the single cancel's rules; answered like create-batch."""
        return await self._batch(req, self.cancel)

    async def _batch(self, req, one):
        p = await self.params(req)
        items = p.get("request")
        if p.get("category") != "linear" or not isinstance(items, list) or not (
                1 <= len(items) <= BATCH_MAX) or not all(isinstance(it, dict) for it in items):
            return self.err(core.R_BAD_PARAM)
        rows, codes = [], []
        for it in items:
            body = json.loads((await one(_Item(it))).body)
            res = body.get("result") or {}
            ok = body.get("retCode") == 0
            rows.append({"category": "linear", "symbol": it.get("symbol", ""),
                         "orderId": res.get("orderId", "") if ok else "",
                         "orderLinkId": res.get("orderLinkId", "") if ok
                         else str(it.get("orderLinkId", "")),
                         "createAt": str(self.acc.now_ms()) if ok else ""})
            codes.append({"code": body.get("retCode"), "msg": body.get("retMsg")})
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": {"list": rows},
                                  "retExtInfo": {"list": codes}, "time": self.server_ms()})


BATCH_MAX = 10  # Bybit linear: orders per create-batch / cancel-batch request


class _Item:
    """One order of a batch, shaped as the request the single-order handler reads (its JSON
    body), so a batch follows exactly the single create's and cancel's rules."""

    query: dict = {}
    body_exists = True

    def __init__(self, item: dict) -> None:
        self._text = json.dumps(item)

    async def text(self) -> str:
        return self._text
