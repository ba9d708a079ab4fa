"""Binance USDT-M REST (`/fapi/...`) in front of the emulator's account.

Answers the shapes the real exchange sends (numbers as strings, errors as HTTP 400 with
`{"code": -N, "msg": ...}`), so ccxt's binanceusdm parses them and maps errors to its exception
classes. Also answers the account calls ccxt makes on its own with credentials (`/sapi` coins,
margin pairs) with minimal valid lists.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from urllib.parse import parse_qsl

from aiohttp import web

from passivbot.emulator import core, guards, history, income, limits
from passivbot.margin import hedged_liq_price_nb
from passivbot.records import LONG, SHORT

ERRORS = {  # reject code -> (HTTP status, Binance code, message)
    core.R_MARGIN: (400, -2019, "Margin is insufficient."),
    core.R_UNKNOWN_ORDER: (400, -2011, "Unknown order sent."),
    core.R_REDUCE_ONLY: (400, -2022, "ReduceOnly Order is rejected."),
    core.R_POST_ONLY: (400, -5022, "Due to the order could not be executed as maker, the Post Only "
                                   "order will be rejected. The order will not be recorded in the "
                                   "order history"),
    core.R_BAD_SYMBOL: (400, -1121, "Invalid symbol."),
    core.R_DUPLICATE_CID: (400, -4116, "ClientOrderId is duplicated."),
    core.R_PRICE_STEP: (400, -1013, "Filter failure: PRICE_FILTER"),
    core.R_QTY_STEP: (400, -1013, "Filter failure: LOT_SIZE"),
    core.R_MIN_NOTIONAL: (400, -4164, "Order's notional must be no smaller than {} (unless you "
                                      "choose reduce only)."),
    core.R_POSITION_SIDE: (400, -4061, "Order's position side does not match user's setting."),
    core.R_REJECTED: (400, -2010, "NEW_ORDER_REJECTED"),
    core.R_BAD_PARAM: (400, -1102, "A mandatory parameter was not sent, was empty/null, or "
                                   "malformed."),
    core.R_LEVERAGE: (400, -4028, "Leverage is not valid"),
    core.R_NO_CHANGE: (400, -4059, "No need to change position side."),
}
SIDE_NAME = {LONG: "LONG", SHORT: "SHORT"}
SIDE_OF = {"LONG": LONG, "SHORT": SHORT, "BOTH": None}


def s(x: float) -> str:
    """A number as Binance prints it (no float residue)."""
    return f"{x:.10f}".rstrip("0").rstrip(".") if x else "0"


def const(obj):
    """An async handler answering `obj` (calls ccxt makes that need only a valid shape)."""
    async def handler(req: web.Request) -> web.Response:
        return web.json_response(obj)
    return handler


def error(code: str, detail: str = "") -> web.Response:
    status, num, msg = ERRORS[code]
    return web.json_response({"code": num, "msg": msg.format(detail)}, status=status)


class BinanceRest:
    def __init__(self, emu) -> None:
        self.emu = emu
        self.acc = emu.account
        self.listen_keys: set[str] = set()

    def register(self, r: web.UrlDispatcher) -> None:
        get, post = r.add_get, r.add_post
        get("/fapi/v1/ping", const({}))
        get("/fapi/v1/time", self.time)
        get("/fapi/v1/exchangeInfo", self.exchange_info)
        get("/fapi/v1/klines", self.klines)
        get("/fapi/v1/ticker/price", self.ticker_price)
        get("/fapi/v1/ticker/bookTicker", self.book_ticker)
        get("/fapi/v1/depth", self.depth)
        for v in ("v2", "v3"):
            get(f"/fapi/{v}/account", self.account)
            get(f"/fapi/{v}/balance", self.balance)
            get(f"/fapi/{v}/positionRisk", self.position_risk)
        get("/fapi/v1/leverageBracket", self.leverage_bracket)
        get("/fapi/v1/openOrders", self.open_orders)
        get("/fapi/v1/allOrders", self.all_orders)
        get("/fapi/v1/userTrades", self.user_trades)
        get("/fapi/v1/income", self.income)
        r.add_route("*", "/fapi/v1/order", self.order)
        r.add_route("*", "/fapi/v1/batchOrders", self.batch_orders)
        r.add_delete("/fapi/v1/allOpenOrders", self.cancel_all)
        post("/fapi/v1/leverage", self.leverage)
        r.add_route("*", "/fapi/v1/positionSide/dual", self.dual)
        post("/fapi/v1/marginType", const({"code": 200, "msg": "success"}))
        r.add_route("*", "/fapi/v1/listenKey", self.listen_key)
        get("/sapi/v1/capital/config/getall", const([]))
        get("/sapi/v1/margin/allPairs", const([]))

    def http_error(self, status: int) -> web.Response:
        """The answer of an injected HTTP error (faults.http_errors, its `retry_after`)."""
        if status in (418, 429):
            wait = self.emu.faults.http_retry_after
            return web.json_response({"code": -1003, "msg": "Too many requests; current limit "
                                      f"of IP(127.0.0.1) is {limits.BINANCE_WEIGHT_LIMIT} "
                                      "requests per minute."}, status=status,
                                     headers={"Retry-After": "1" if wait is None
                                              else f"{wait:g}"})
        return web.Response(status=status, text="<html>Service Unavailable</html>",
                            content_type="text/html")

    async def guard(self, req: web.Request, name: str) -> tuple[web.Response | None, dict]:
        """Rate limits and the recvWindow clock check (emulator.guards): (refusal, headers)."""
        return await guards.binance_guard(self, req, name)

    async def authorize(self, req: web.Request) -> web.Response | None:
        """With a key pair configured, check the HMAC of signed requests (-1022 if bad)."""
        if self.emu.api_key is None or "X-MBX-APIKEY" not in req.headers:
            return None
        if req.headers["X-MBX-APIKEY"] != self.emu.api_key:
            return web.json_response({"code": -2015, "msg": "Invalid API-key, IP, or "
                                      "permissions for action."}, status=401)
        # The query as sent (percent-encoded, what the client signed): a batch cancel's
        # `orderIdList=[1,2]` travels as %5B1%2C2%5D; the decoded string would not verify.
        raw = (req.rel_url.raw_query_string + "&" + await req.text()).strip("&")
        if "signature=" not in raw:  # API-key only endpoints (listenKey)
            return None
        payload, _, sig = raw.rpartition("&signature=")
        want = hmac.new(self.emu.api_secret.encode(), payload.encode(),
                        hashlib.sha256).hexdigest()
        if sig.split("&")[0] == want:
            return None
        return web.json_response({"code": -1022, "msg": "Signature for this request is not "
                                  "valid."}, status=400)

    # -- helpers -----------------------------------------------------------------------------
    async def params(self, req: web.Request) -> tuple[dict, web.Response | None]:
        body = await req.text()
        p = dict(req.query)
        p.update(dict(parse_qsl(body)))
        sym = p.get("symbol")
        acc = self.emu.accounts.get(sym if sym is not None else self.emu.symbol)
        if acc is None:
            return p, error(core.R_BAD_SYMBOL)
        self.acc = acc  # the symbol's book, until the next request (handlers do not await)
        return p, None

    def books(self, p: dict) -> list:
        """The books a request is about: its symbol's, or every symbol's without one."""
        return [self.acc] if "symbol" in p else list(self.emu.accounts.values())

    def order_json(self, o: core.Order) -> dict:
        return {
            "orderId": o.id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.client_id,
            "price": s(o.price), "avgPrice": s(o.avg_price), "origQty": s(o.qty),
            "executedQty": s(o.filled), "cumQty": s(o.filled),
            "cumQuote": s(o.filled * o.avg_price),
            "timeInForce": "GTX" if o.post_only else "GTC", "type": o.order_type,
            "reduceOnly": o.reduce_only, "closePosition": False,
            "side": "BUY" if o.is_buy else "SELL",
            "positionSide": SIDE_NAME[o.side] if o.explicit_side else "BOTH",
            "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
            "origType": o.order_type, "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
            "goodTillDate": 0, "time": o.created_ms, "updateTime": o.updated_ms,
        }

    def positions_json(self, books: list | None = None) -> list:
        if books is not None:
            out = []
            for b in books:
                self.acc = b
                out += self.positions_json()
            return out
        acc, last = self.acc, self.acc.last_price
        lp, sp = acc.positions[LONG], acc.positions[SHORT]
        liq, _ = hedged_liq_price_nb(acc.balance, lp.size, lp.price, sp.size, sp.price,
                                     acc.spec.brackets_array(), acc.spec.mmr_add)
        out = []
        for side, pos in acc.positions.items():
            if not acc.hedge_mode and pos.size <= 0.0 and side == SHORT:
                continue
            amt = side * pos.size
            up = side * pos.size * (last - pos.price)
            out.append({
                "symbol": acc.spec.symbol, "positionSide": SIDE_NAME[side] if acc.hedge_mode
                else "BOTH", "positionAmt": s(amt), "entryPrice": s(pos.price),
                "breakEvenPrice": s(pos.price), "markPrice": s(last), "unRealizedProfit": s(up),
                "liquidationPrice": s(liq if pos.size > 0 and liq < 1e12 else 0.0),
                "isolatedMargin": "0", "notional": s(amt * last), "marginAsset": "USDT",
                "isolatedWallet": "0", "initialMargin": s(pos.size * last / acc.leverage),
                "maintMargin": "0", "positionInitialMargin": s(pos.size * last / acc.leverage),
                "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                "leverage": str(acc.leverage), "marginType": "cross", "isAutoAddMargin": "false",
                "maxNotionalValue": "1000000", "updateTime": acc.now_ms(),
            })
        return out

    # -- market ----------------------------------------------------------------------------
    async def time(self, req):
        return web.json_response({"serverTime": self.emu.clock_check.served()})

    async def exchange_info(self, req):
        from passivbot.markets import MARKETS
        symbols = []
        listed = {**MARKETS, **{("binance", k): v for k, v in self.emu.specs.items()}}
        for (ex, sym), spec in listed.items():
            if ex != "binance":
                continue
            symbols.append({
                "symbol": sym, "pair": sym, "contractType": "PERPETUAL", "deliveryDate":
                4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
                "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
                "baseAsset": spec.base, "quoteAsset": spec.quote, "marginAsset": spec.quote,
                "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8,
                "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
                "triggerProtect": "0.0500", "liquidationFee": "0.012500",
                "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": s(spec.price_step),
                     "maxPrice": "1000000", "tickSize": s(spec.price_step)},
                    {"filterType": "LOT_SIZE", "minQty": s(spec.min_qty), "maxQty": "10000",
                     "stepSize": s(spec.qty_step)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": s(spec.min_qty),
                     "maxQty": "10000", "stepSize": s(spec.qty_step)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": s(spec.min_cost)},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
                     "multiplierDown": "0.9500", "multiplierDecimal": "4"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                               "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            })
        return web.json_response({
            "timezone": "UTC", "serverTime": self.acc.now_ms(), "futuresType": "U_MARGINED",
            "rateLimits": [], "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": symbols,
        })

    async def klines(self, req):
        p, err = await self.params(req)
        if err:
            return err
        c = self.acc.candles[: self.acc.clock]
        limit = min(int(p.get("limit", 500)), 1500)
        ts = c[:, 0]
        lo = int(ts.searchsorted(float(p["startTime"]))) if "startTime" in p else None
        hi = int(ts.searchsorted(float(p["endTime"]), side="right")) if "endTime" in p else len(c)
        rows = c[lo: lo + limit] if lo is not None else c[max(hi - limit, 0): hi]
        if lo is not None:
            rows = rows[rows[:, 0] <= (float(p["endTime"]) if "endTime" in p else 1e18)]
        out = [[int(r[0]), s(r[1]), s(r[2]), s(r[3]), s(r[4]), s(r[5]), int(r[0]) + 59_999,
                s(r[5] * r[4]), 1, "0", "0", "0"] for r in rows]
        return web.json_response(out)

    async def ticker_price(self, req):
        p, err = await self.params(req)
        if err:
            return err
        rows = [{"symbol": b.spec.symbol, "price": s(b.last_price), "time": b.now_ms()}
                for b in self.books(p)]
        return web.json_response(rows[0] if len(rows) == 1 else rows)

    def _book(self) -> tuple[float, float]:
        acc = self.acc
        last = acc.last_price
        return (acc.bid, acc.ask) if acc.realistic and acc.ask > 0 else (last, last)

    async def book_ticker(self, req):
        p, err = await self.params(req)
        if err:
            return err
        rows = []
        for b in self.books(p):
            self.acc = b
            bid, ask = self._book()
            rows.append({"symbol": b.spec.symbol, "bidPrice": s(bid), "bidQty": "1",
                         "askPrice": s(ask), "askQty": "1", "time": b.now_ms(),
                         "lastUpdateId": b.clock})
        return web.json_response(rows[0] if len(rows) == 1 else rows)

    async def depth(self, req):
        _, err = await self.params(req)
        if err:
            return err
        bid, ask = self._book()
        now = self.acc.now_ms()
        return web.json_response({"lastUpdateId": self.acc.clock, "E": now, "T": now,
                                  "bids": [[s(bid), "1"]], "asks": [[s(ask), "1"]]})

    # -- account -------------------------------------------------------------------------
    def asset_json(self) -> dict:
        acc = self.acc
        up, im = acc.upnl(), acc.initial_margin()
        return {"asset": "USDT", "walletBalance": s(acc.balance), "unrealizedProfit": s(up),
                "marginBalance": s(acc.balance + up), "maintMargin": "0",
                "initialMargin": s(im), "positionInitialMargin": s(im),
                "openOrderInitialMargin": "0", "crossWalletBalance": s(acc.balance),
                "crossUnPnl": s(up), "availableBalance": s(acc.available()),
                "maxWithdrawAmount": s(max(acc.available(), 0.0)), "marginAvailable": True,
                "updateTime": acc.now_ms()}

    async def account(self, req):
        _, err = await self.params(req)
        if err:
            return err
        a = self.asset_json()
        return web.json_response({
            "totalInitialMargin": a["initialMargin"], "totalMaintMargin": "0",
            "totalWalletBalance": a["walletBalance"],
            "totalUnrealizedProfit": a["unrealizedProfit"],
            "totalMarginBalance": a["marginBalance"], "totalPositionInitialMargin":
            a["initialMargin"], "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance":
            a["walletBalance"], "totalCrossUnPnl": a["unrealizedProfit"], "availableBalance":
            a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
            "canTrade": True, "canDeposit": True, "canWithdraw": True, "feeTier": 0,
            "multiAssetsMargin": False, "updateTime": 0, "assets": [a],
            "positions": self.positions_json(list(self.emu.accounts.values()))})

    async def balance(self, req):
        a = self.asset_json()
        a.update(accountAlias="emu", balance=a["walletBalance"])
        return web.json_response([a])

    async def position_risk(self, req):
        p, err = await self.params(req)
        return err or web.json_response(self.positions_json(self.books(p)))

    async def leverage_bracket(self, req):
        p, err = await self.params(req)
        if err:
            return err
        out = []
        for b in self.books(p):
            spec = b.spec
            floor, brackets = 0.0, []
            for i, t in enumerate(spec.tiers):
                cap = t.notional_cap if t.notional_cap != float("inf") else 9.223372036854776e18
                brackets.append({"bracket": i + 1, "initialLeverage": t.max_leverage,
                                 "notionalCap": cap, "notionalFloor": floor, "maintMarginRatio":
                                 t.mmr, "cum": t.maint_amount})
                floor = cap
            out.append({"symbol": spec.symbol, "brackets": brackets})
        return web.json_response(out)

    async def leverage(self, req):
        p, err = await self.params(req)
        if err:
            return err
        r = self.acc.set_leverage(int(p.get("leverage", 0)))
        if isinstance(r, core.Reject):
            return error(r.code)
        return web.json_response({"leverage": r, "maxNotionalValue": "50000",
                                  "symbol": self.acc.spec.symbol})

    async def dual(self, req):
        p, err = await self.params(req)
        if err:
            return err
        if req.method == "GET":
            return web.json_response({"dualSidePosition": self.acc.hedge_mode})
        hedge = str(p.get("dualSidePosition")).lower() == "true"
        books = list(self.emu.accounts.values())  # the position mode is the account's
        r = next((x for x in (b.can_set_hedge_mode(hedge) for b in books) if x is not None),
                 None)
        if r is None:
            for b in books:
                r = b.set_hedge_mode(hedge)
        if isinstance(r, core.Reject):
            return error(r.code)
        return web.json_response({"code": 200, "msg": "success"})

    async def listen_key(self, req):
        if req.method == "POST":  # an active key is returned again (and extended)
            key = next(iter(self.listen_keys), None) or secrets.token_urlsafe(48)
            self.listen_keys.add(key)
            return web.json_response({"listenKey": key})
        if req.method == "PUT" and not self.listen_keys:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."},
                                     status=400)
        return web.json_response({"listenKey": next(iter(self.listen_keys), "")}
                                 if req.method == "PUT" else {})

    # -- orders ----------------------------------------------------------------------------
    async def open_orders(self, req):
        p, err = await self.params(req)
        if err:
            return err
        return web.json_response([self.order_json(o) for b in self.books(p)
                                  for o in b.open_orders.values()])

    async def all_orders(self, req):
        _, err = await self.params(req)
        if err:
            return err
        orders = list(self.acc.closed_orders.values()) + list(self.acc.open_orders.values())
        orders.sort(key=lambda o: o.id)
        return web.json_response([self.order_json(o) for o in orders[-1000:]])

    async def user_trades(self, req):
        p, err = await self.params(req)
        if err:
            return err
        try:  # the venue's paging rules (emulator.history)
            page = history.binance_page(self.acc.fills, p, self.acc.now_ms())
        except history.PageError as e:
            code = {"interval": -1127, "combination": -1128}.get(e.kind, -1102)
            return web.json_response({"code": code, "msg": str(e)}, status=400)
        out = []
        for f in page:
            o = self.acc.find(f["order_id"])
            out.append({"symbol": self.acc.spec.symbol, "id": f["n"] + 1, "orderId": f["order_id"],
                        "side": "BUY" if o is not None and o.is_buy else "SELL",
                        "price": s(f["price"]), "qty": s(f["qty"]), "realizedPnl": s(f["pnl"]),
                        "quoteQty": s(f["qty"] * f["price"]), "commission": s(f["fee"]),
                        "commissionAsset": "USDT", "time": f["timestamp"],
                        "positionSide": SIDE_NAME[f["side"]], "buyer": bool(o and o.is_buy),
                        "maker": not f["taker"]})
        return web.json_response(out)

    async def income(self, req):
        """Income history: the funding charged (emulator.income), every symbol without one."""
        p, err = await self.params(req)
        if err:
            return err
        books = [self.acc] if p.get("symbol") else list(self.emu.accounts.values())
        try:
            charged = income.funding_rows(books, self.emu.symbols)
            rows = income.binance_income(charged, p, self.acc.now_ms())
        except history.PageError as e:
            return web.json_response({"code": -1102, "msg": str(e)}, status=400)
        return web.json_response(rows)

    async def order(self, req):
        p, err = await self.params(req)
        if err:
            return err
        if req.method == "POST":
            return self.create(p)
        oid = int(p["orderId"]) if "orderId" in p else None
        cid = p.get("origClientOrderId")
        if req.method == "DELETE":
            r = self.acc.cancel(oid, cid)
            if isinstance(r, core.Reject):
                return error(r.code)
            self.emu.counters["orders_cancelled"] += 1
            return web.json_response(self.order_json(r))
        o = self.acc.find(oid, cid)
        if o is None:
            return web.json_response({"code": -2013, "msg": "Order does not exist."}, status=400)
        return web.json_response(self.order_json(o))

    def create(self, p: dict) -> web.Response:
        try:
            otype = p.get("type", "LIMIT").upper()
            if otype not in ("LIMIT", "MARKET"):
                return error(core.R_BAD_PARAM)
            ps = p.get("positionSide", "BOTH").upper()
            if ps != "BOTH" and "reduceOnly" in p:  # hedge mode: the side says it all
                return web.json_response({"code": -1106, "msg": "Parameter 'reduceOnly' sent "
                                          "when not required."}, status=400)
            r = self.acc.place(
                is_buy=p["side"].upper() == "BUY", qty=float(p["quantity"]),
                price=float(p.get("price", 0.0)), order_type=otype, position_side=SIDE_OF[ps],
                reduce_only=str(p.get("reduceOnly", "false")).lower() == "true",
                post_only=p.get("timeInForce", "GTC").upper() == "GTX",
                client_id=p.get("newClientOrderId", ""),
                reject=self.emu.faults.take_reject())
        except (KeyError, ValueError):
            return error(core.R_BAD_PARAM)
        if isinstance(r, core.Reject):
            self.emu.counters["orders_rejected"] += 1
            return error(r.code, r.detail)
        self.emu.counters["orders_created"] += 1
        return web.json_response(self.order_json(r))

    async def cancel_all(self, req):
        _, err = await self.params(req)
        if err:
            return err
        n = len(self.acc.cancel_all())
        self.emu.counters["orders_cancelled"] += n
        return web.json_response({"code": 200, "msg": "The operation of cancel all open order "
                                  "is done."})

    # -- batch orders ----------------------------------------------------------------------
    async def batch_orders(self, req):
        """POST /fapi/v1/batchOrders (`batchOrders`: a JSON list of at most 5 orders) and
        DELETE (`orderIdList` / `origClientOrderIdList`: at most 10). Each order follows the
        single order's rules (`create`, `acc.cancel`); the answer is a list in request order,
        an order where it succeeded and `{"code", "msg"}` where it failed (HTTP 200: one order
        refused does not refuse the others). Weights and order counts: `limits`."""
        p, err = await self.params(req)
        if err:
            return err
        low = {k.lower(): v for k, v in p.items()}
        if req.method == "POST":
            items = _json_list(low.get("batchorders"))
            if items is None or not 1 <= len(items) <= BATCH_CREATE_MAX or not all(
                    isinstance(it, dict) for it in items):
                return _batch_param_error("batchOrders", BATCH_CREATE_MAX)
            out = []
            for it in items:
                it = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in it.items()}
                acc = self.emu.accounts.get(it.get("symbol"))
                if acc is None:
                    out.append(_body(error(core.R_BAD_SYMBOL)))
                    continue
                self.acc = acc  # each order its own symbol's book
                out.append(_body(self.create(it)))
            return web.json_response(out)
        if req.method != "DELETE":
            return error(core.R_BAD_PARAM)
        ids = _json_list(low.get("orderidlist"))
        cids = _json_list(low.get("origclientorderidlist"))
        try:
            keys = [(int(i), None) for i in ids] if ids else [(None, str(c)) for c in cids or []]
        except (TypeError, ValueError):
            keys = []
        if not 1 <= len(keys) <= BATCH_CANCEL_MAX:
            return _batch_param_error("orderIdList", BATCH_CANCEL_MAX)
        out = []
        for oid, cid in keys:
            r = self.acc.cancel(oid, cid)
            if isinstance(r, core.Reject):
                out.append(_body(error(r.code)))
                continue
            self.emu.counters["orders_cancelled"] += 1
            out.append(self.order_json(r))
        return web.json_response(out)


BATCH_CREATE_MAX, BATCH_CANCEL_MAX = 5, 10  # Binance: "Max 5 orders"; "max length 10"


def _json_list(raw) -> list | None:
    try:
        v = json.loads(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    return v if isinstance(v, list) else None


def _body(resp: web.Response) -> dict:
    """The JSON body of one order's answer, as a batch answer's element."""
    return json.loads(resp.body)


def _batch_param_error(name: str, most: int) -> web.Response:
    return web.json_response({"code": -1102, "msg": f"Param '{name}' is empty, malformed or "
                              f"has more than {most} elements."}, status=400)
