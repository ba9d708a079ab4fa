"""The emulator's gatekeeping before a REST handler runs: each venue's rate limits and the
recvWindow check of signed requests (rules and numbers in `emulator.limits`), answered in the
venue's own shapes. `self` is the venue's REST front-end (BinanceRest / BybitRest)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from passivbot.emulator import core, limits


async def binance_guard(self, req: web.Request, name: str) -> tuple[web.Response | None, dict]:
    """Rate limits and the recvWindow clock check (emulator.limits): (refusal, headers)."""
    emu = self.emu
    headers: dict = {}
    if emu.realism.rate_limits or emu.limits_armed:
        weight = limits.BINANCE_WEIGHTS.get(name, 1)
        if name == "GET /fapi/v1/klines":
            weight = limits.kline_weight(int(req.query.get("limit", 500) or 500))
        status, wait, headers = emu.limiter.check(name, weight)
        if status == 429:
            return web.json_response(
                {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) is "
                 f"{limits.BINANCE_WEIGHT_LIMIT} requests per minute. Please use the websocket for live updates to "
                 "avoid polling the API."}, status=429,
                headers={"Retry-After": limits.retry_after(wait)}), {}
        if status == -1015:  # the order-count limit: 429 without Retry-After
            return web.json_response(
                {"code": -1015, "msg": "Too many new orders; current limit is 300 orders per "
                 "TEN_SECONDS."}, status=429), headers
        if status == 418:
            until = self.acc.now_ms() + int(wait * emu.speed * 1000)
            return web.json_response(
                {"code": -1003, "msg": f"Way too many requests; IP(127.0.0.1) banned until "
                 f"{until}. Please use the websocket for live updates to avoid bans."},
                status=418, headers={"Retry-After": limits.retry_after(wait)}), {}
    if emu.realism.check_clock or emu.clock_check.skew_ms:
        p = dict(req.query)
        if req.method != "GET":
            p.update(dict(parse_qsl(await req.text())))
        if "timestamp" in p:
            try:
                ts, rw = int(p["timestamp"]), int(p.get("recvWindow", 5000))
            except ValueError:
                from passivbot.emulator.binance_rest import error  # (imports this module)
                return error(core.R_BAD_PARAM), headers
            verdict = emu.clock_check.verdict(ts, min(rw, 60_000))
            if verdict:
                emu.counters["clock_rejects"] = emu.counters.get("clock_rejects", 0) + 1
                msg = ("Timestamp for this request was 1000ms ahead of the server's time."
                       if verdict == "ahead" else
                       "Timestamp for this request is outside of the recvWindow.")
                return web.json_response({"code": -1021, "msg": msg}, status=400), headers
    return None, headers


async def bybit_guard(self, req: web.Request, name: str) -> tuple[web.Response | None, dict]:
    """Rate limits and the recvWindow clock check (emulator.limits): (refusal, headers)."""
    emu = self.emu
    headers: dict = {}
    if emu.realism.rate_limits or emu.limits_armed:
        status, wait, headers = emu.limiter.check(req.path)
        if status == 403:  # the IP ban; Retry-After is the emulator's addition (scaled)
            return web.Response(status=403, text="403 Forbidden: access too frequent",
                                headers={"Retry-After": limits.retry_after(wait)}), {}
        if status == 10006:
            return web.json_response({"retCode": 10006, "retMsg": "Too many visits. "
                                      "Exceeded the API Rate Limit.", "result": {},
                                      "retExtInfo": {}, "time": self.acc.now_ms()},
                                     headers=headers), {}
    h = req.headers
    if (emu.realism.check_clock or emu.clock_check.skew_ms) and "X-BAPI-TIMESTAMP" in h:
        try:
            ts, rw = int(h["X-BAPI-TIMESTAMP"]), int(h.get("X-BAPI-RECV-WINDOW", 5000))
        except ValueError:
            return self.err(core.R_BAD_PARAM), headers
        if emu.clock_check.verdict(ts, rw):
            emu.counters["clock_rejects"] = emu.counters.get("clock_rejects", 0) + 1
            server = self.acc.now_ms() + emu.clock_check.skew_ms
            return web.json_response({
                "retCode": 10002, "retMsg": "invalid request, please check your server "
                f"timestamp or recv_window param. req_timestamp[{ts}],server_timestamp"
                f"[{server}],recv_window[{rw}]", "result": {}, "retExtInfo": {},
                "time": server}), headers
    return None, headers
