"""A thin adapter over a ccxt.pro client: the exchange's quirks as data, one code path.

Each exchange module (`binance.py`, `bybit.py`) declares a `Capabilities` row and a few pure
extraction functions (wallet balance out of a balance payload, which position side an order
or a position belongs to); `ExchangeAdapter` does everything else identically. The bot talks
only to the adapter, so it never writes `if exchange == ...`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from passivbot.exchanges import batch
from passivbot.records import (
    BRACKET_COLS, DEFAULT_PASSIVE_TICKS, DEFAULT_REPRICE_TOL, LONG, M_MIN_COST, M_MIN_QTY,
    M_PASSIVE_TICKS, M_PRICE_STEP, M_QTY_STEP, M_REPRICE_TOL, N_MARKET, SHORT,
)


@dataclass(frozen=True)
class Capabilities:
    """What differs between exchanges, as data (freqtrade `_ft_has` style)."""

    name: str
    # The ccxt.pro class, and options it needs beyond USDT-margined linear swaps.
    ccxt_class: str
    # Order params that put an order on a hedge-mode position side.
    position_param: str  # "positionSide" | "positionIdx"
    position_values: tuple  # (value for LONG, value for SHORT)
    # Whether reduceOnly may be sent with a hedge-mode close (Binance rejects it: -1106).
    reduce_only_in_hedge_mode: bool
    # Leverage-tier info keys: notional cap, maintenance amount (Binance cum, Bybit mmDeduction).
    tier_cap_key: str
    tier_maint_key: str
    # Whether the close fee is counted in the maintenance rate (Bybit) for liquidation.
    liq_adds_taker_fee: bool
    # Order-rate budget the executor keeps under (orders per second, burst).
    orders_per_s: float
    order_burst: int
    # Candles per fetch_ohlcv page (the most ccxt and the exchange both accept).
    ohlcv_page: int
    # Longest client order id the exchange accepts.
    max_client_id: int = 36
    # The user stream rides on a listen key that can expire (Binance): after a user-stream
    # failure, make ccxt fetch a fresh key instead of reconnecting with the dead one.
    listen_key: bool = False
    # Rate limits: the header that says how long to wait after a 429/418 (seconds), the
    # header with the ms epoch at which a limit window resets (Bybit), the body code of an
    # account rate limit answered with HTTP 200 (Bybit 10006), the ban after HTTP 403 (Bybit:
    # "10 minutes after the IP limit"), and the pause when a 429 names no time.
    retry_after_header: str = "Retry-After"
    limit_reset_header: str = ""
    rate_limit_body_code: str = ""
    forbidden_ban_s: float = 0.0
    default_cool_down_s: float = 2.0
    # Order-stream cancel reason of a post-only order that would have taken liquidity
    # (Bybit accepts it, then cancels it); "" where the create itself is refused (Binance -5022).
    post_only_cancel_reason: str = ""
    # How fast the exchange pushes market data: a market stream silent this long is stale.
    market_silence_s: float = 15.0
    # Price steps between the last price and the nearest entry / close (records.M_PASSIVE_TICKS):
    # both venues quote a book at least one step wide around the last trade, so an order at the
    # last price is at the touch and crosses on one side (PostOnly refused; a reduce-only close
    # fills at once as a taker). One step off it always rests. The market specs' value too.
    passive_ticks: float = DEFAULT_PASSIVE_TICKS
    # Re-pricing tolerance of a flat side's initial entry (records.M_REPRICE_TOL): the same
    # default as the backtest's market specs (markets.MarketSpec.reprice_tol).
    reprice_tol: float = DEFAULT_REPRICE_TOL
    # Batch order endpoints (ccxt create_orders / cancel_orders): orders per request, 1 where
    # the venue has none (every order its own request). `batch_error_url`: the `urls['api']`
    # key whose host picks ccxt's error table for a batch's per-order codes ("" = the default).
    batch_create_max: int = 1
    batch_cancel_max: int = 1
    batch_error_url: str = ""
    # Trade history (fetch_my_trades): the most trades one answer holds, and whether pages
    # inside a 7-day window follow a cursor (Bybit, newest first) or time (Binance, oldest first).
    trades_page: int = 1000
    trades_cursor: bool = False
    # Funding history (ccxt fetch_funding_history: Binance GET /fapi/v1/income FUNDING_FEE,
    # Bybit GET /v5/execution/list execType Funding): ccxt's `amount` is the venue's own
    # number, received positive on Binance (`income`), paid positive on Bybit (`execFee`):
    # `funding_sign` turns it into received-positive. The most rows one answer holds, and the
    # query parameter that carries it where ccxt sends another (Bybit: ccxt sends `size`, the
    # endpoint reads `limit`; "": ccxt's limit is right).
    funding_sign: float = 1.0
    funding_page: int = 1000
    funding_page_param: str = ""
    # Extra ccxt options (e.g. Bybit: load only linear markets).
    ccxt_options: tuple = ()
    # ccxt picks the error table by the URL's host (Binance: fapi.binance.com -> "linear"):
    # a rewritten host (the emulator) must be mapped back to this table.
    error_table_by_host: str = ""


@dataclass(frozen=True)
class Extractors:
    """Pure functions over ccxt payloads that depend on the exchange's raw `info` shape."""

    wallet_balance: Callable[[dict, str], float | None]  # ccxt balance -> wallet balance
    position_side: Callable[[dict], int | None]  # ccxt position -> LONG / SHORT / None
    order_position_side: Callable[[dict], int | None]  # ccxt order -> LONG / SHORT / None
    # ccxt funding-history entry -> LONG / SHORT / None (Binance's income rows name no side)
    funding_side: Callable[[dict], int | None] = lambda f: None


class FundingEvent(NamedTuple):
    """One funding settlement on one position, as the venue's history lists it. `amount`:
    received positive, paid negative (the backtest's funding row `pnl`); `side` None and
    `rate` None where the venue does not say (Binance income rows)."""

    ts_ms: int
    symbol_id: str
    side: int | None
    amount: float
    rate: float | None
    id: str


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0


class ExchangeAdapter:
    """One exchange, one symbol: setup calls, order params and payload parsing."""

    def __init__(self, ex, caps: Capabilities, extract: Extractors, symbol_id: str,
                 quote: str = "USDT") -> None:
        self.ex, self.caps, self.extract = ex, caps, extract
        self.symbol_id = symbol_id  # exchange id, e.g. "ETHUSDT"
        self.quote = quote
        self.symbol = ""  # ccxt unified symbol, after load_markets
        self.market: dict = {}
        self.guard = None  # exchanges.guard.ExchangeGuard, set by registry.make_adapter

    # -- symbols and markets -------------------------------------------------------------
    async def load_market(self) -> dict:
        """load_markets, then map the exchange id (ETHUSDT) to the linear swap market."""
        await self.ex.load_markets()
        for m in self.ex.markets.values():
            if m.get("id") == self.symbol_id and m.get("swap") and m.get("linear"):
                self.market, self.symbol = m, m["symbol"]
                return m
        import ccxt  # local: only the error class

        raise ccxt.BadSymbol(f"{self.caps.name} has no linear perpetual {self.symbol_id}")

    def market_array(self) -> np.ndarray:
        """price step, qty step, min qty, min cost, passive ticks, re-pricing tolerance as the
        kernels take them (M_*)."""
        m = self.market
        a = np.zeros(N_MARKET)
        a[M_PRICE_STEP] = _f(m["precision"]["price"])
        a[M_QTY_STEP] = _f(m["precision"]["amount"])
        a[M_MIN_QTY] = _f((m["limits"].get("amount") or {}).get("min")) or a[M_QTY_STEP]
        a[M_MIN_COST] = _f((m["limits"].get("cost") or {}).get("min"))
        a[M_PASSIVE_TICKS] = self.caps.passive_ticks
        a[M_REPRICE_TOL] = self.caps.reprice_tol
        return a

    async def fetch_brackets(self) -> tuple[np.ndarray, float]:
        """(brackets float64 (n, BRACKET_COLS), mmr_add) for margin.hedged_liq_price_nb."""
        tiers = (await self.ex.fetch_leverage_tiers([self.symbol]))[self.symbol]
        return brackets_from_tiers(tiers, self.caps), self.mmr_add()

    def mmr_add(self) -> float:
        return _f(self.market.get("taker")) if self.caps.liq_adds_taker_fee else 0.0

    def reset_user_stream_auth(self) -> None:
        """Forget the cached listen key (ccxt keeps `lastAuthenticatedTime` per market type)."""
        if not self.caps.listen_key:
            return
        for v in list(getattr(self.ex, "options", {}).values()):
            if isinstance(v, dict) and "lastAuthenticatedTime" in v:
                v["lastAuthenticatedTime"] = 0

    # -- setup ---------------------------------------------------------------------------
    async def set_hedge_mode(self) -> None:
        await self.ex.set_position_mode(True, self.symbol)

    async def set_leverage(self, leverage: int) -> None:
        await self.ex.set_leverage(leverage, self.symbol)

    # -- orders --------------------------------------------------------------------------
    def order_params(self, side: int, close: bool, client_id: str) -> dict:
        """Params for an order on hedge-mode position `side`: post-only entries, reduce-only
        closes (where the exchange accepts the flag), idempotent client id. `create_order`
        makes grid closes post-only too; the equity stop's market close uses these as they are."""
        c = self.caps
        p = {c.position_param: c.position_values[0 if side == LONG else 1],
             "clientOrderId": client_id}
        if close:
            if c.reduce_only_in_hedge_mode:
                p["reduceOnly"] = True
        else:
            p["postOnly"] = True
        return p

    def grid_order_params(self, side: int, close: bool, client_id: str) -> dict:
        """A grid order's params, single or in a batch: post-only, closes too."""
        return {**self.order_params(side, close, client_id), "postOnly": True}

    async def create_order(self, side: int, close: bool, qty: float, price: float,
                           client_id: str) -> dict:
        """A grid limit order: post-only, closes too (a maker fill as the backtest books it; a
        close that would cross is refused or cancelled, never filled as a taker)."""
        is_buy = (side == LONG) != close
        params = self.grid_order_params(side, close, client_id)
        return await self.ex.create_order(self.symbol, "limit", "buy" if is_buy else "sell", qty,
                                          price, params)

    async def cancel_order(self, order_id: str) -> dict:
        return await self.ex.cancel_order(order_id, self.symbol)

    async def create_orders(self, orders: list[tuple]) -> list:
        """Batch create: (side, close, qty, price, client_id) tuples, at most
        caps.batch_create_max; per order the ccxt order, an exception or None
        (`exchanges.batch`)."""
        return await batch.create_orders(self, orders)

    async def cancel_orders(self, order_ids: list[str]) -> list:
        """Batch cancel of at most caps.batch_cancel_max ids (`exchanges.batch`)."""
        return await batch.cancel_orders(self, order_ids)

    # -- funding history -------------------------------------------------------------------
    async def fetch_funding(self, since_ms: int, until_ms: int,
                            rest: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
                            ) -> list[FundingEvent]:
        """This symbol's funding settled in [since_ms, until_ms], oldest first, each once:
        ccxt's `fetch_funding_history` in windows of at most 7 days (both venues' history
        window), a full page followed by time (Binance, ascending) or by cursor (Bybit,
        newest first). One request when the span holds less than a page (the hourly read).
        `rest(fn)` wraps each call (the bot's retry and rate-limit guard)."""
        c, out, seen = self.caps, [], set()
        pages, start = 0, int(since_ms)
        while start <= until_ms:
            end = min(start + 7 * 86_400_000 - 1, int(until_ms))
            frm, cursor = start, ""
            while True:
                pages += 1
                if pages > 10_000:
                    raise RuntimeError("funding history: more than 10000 pages")
                params: dict = {"until": end}
                if c.funding_page_param:
                    params[c.funding_page_param] = c.funding_page
                if cursor:
                    params["cursor"] = cursor
                got = await rest(lambda s=frm, p=params: self.ex.fetch_funding_history(
                    self.symbol, since=s, limit=c.funding_page, params=p))
                got = [f for f in got or [] if frm <= int(f.get("timestamp") or 0) <= end]
                new = 0
                for f in got:
                    ev = self.funding_event(f)
                    if ev is not None and ev.id not in seen:
                        seen.add(ev.id)
                        out.append(ev)
                        new += 1
                if c.trades_cursor:  # Bybit: newest first, the next (older) page by cursor
                    cursor = next((str(f["info"]["nextPageCursor"]) for f in got
                                   if (f.get("info") or {}).get("nextPageCursor")), "")
                    if not new or not cursor:
                        break
                elif len(got) < c.funding_page or not new:
                    break
                else:  # Binance: ascending, the next page from the last row's time
                    frm = max(int(f["timestamp"]) for f in got)
            start = end + 1
        out.sort(key=lambda e: (e.ts_ms, e.id))
        return out

    def funding_event(self, f: dict) -> FundingEvent | None:
        """A ccxt funding-history entry as a FundingEvent (None: another symbol's)."""
        info = f.get("info") or {}
        sid = str(info.get("symbol") or "") if isinstance(info, dict) else ""
        if f.get("symbol") != self.symbol and sid != self.symbol_id:
            return None
        ts = int(f.get("timestamp") or 0)
        side = self.extract.funding_side(f)
        rate = f.get("rate")
        amount = self.caps.funding_sign * _f(f.get("amount"))
        fid = str(f.get("id") or f"{ts}-{side}-{amount}")
        return FundingEvent(ts, self.symbol_id, side, amount,
                            None if rate is None else _f(rate), fid)

    # -- payload parsing -----------------------------------------------------------------
    def wallet_balance(self, balance: dict) -> float | None:
        return self.extract.wallet_balance(balance, self.quote)

    def positions(self, positions: list) -> dict[int, tuple[float, float]]:
        """{LONG: (size, price), SHORT: (size, price)} of this symbol's positions."""
        out: dict[int, tuple[float, float]] = {}
        for p in positions:
            if p.get("symbol") != self.symbol:
                continue
            side = self.extract.position_side(p)
            if side is None:
                continue
            size = abs(_f(p.get("contracts")))
            out[side] = (size, _f(p.get("entryPrice")) if size > 0 else 0.0)
        return out

    def order_side(self, order: dict) -> int | None:
        return self.extract.order_position_side(order)

    def post_only_crossed(self, order: dict) -> bool:
        """A cancelled order the exchange cancelled because post-only would have crossed."""
        reason = self.caps.post_only_cancel_reason
        info = order.get("info") or {}
        return bool(reason) and isinstance(info, dict) and info.get("rejectReason") == reason


def brackets_from_tiers(tiers: list, caps: Capabilities) -> np.ndarray:
    """ccxt leverage tiers -> float64 (n, BRACKET_COLS) sorted by cap; the last cap is inf."""
    rows = []
    for t in tiers:
        info = t.get("info") or {}
        cap = _f(info.get(caps.tier_cap_key, t.get("maxNotional")))
        rows.append((cap, _f(t.get("maintenanceMarginRate")), _f(info.get(caps.tier_maint_key))))
    rows.sort(key=lambda r: r[0])
    b = np.zeros((max(1, len(rows)), BRACKET_COLS))
    for i, r in enumerate(rows):
        b[i] = r
    if rows:
        b[-1, 0] = math.inf
    return b


def side_from_name(name) -> int | None:
    """"long"/"LONG"/1 -> LONG, "short"/"SHORT"/2 -> SHORT, else None."""
    s = str(name).lower()
    if s in ("long", "1"):
        return LONG
    if s in ("short", "2"):
        return SHORT
    return None
