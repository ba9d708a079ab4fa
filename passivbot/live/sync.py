"""`StateSync`: the one owner of the bot's picture of its account and market (`BotState`).

Every mutation of the state goes through here: stream payloads (orders, trades, positions,
balance, candles, ticker, top of book) and the REST reads that heal it (time, account, open
orders, closed candles). Handlers only update the state and call `trigger()`; they never send
an order, so a burst of messages becomes one cycle. REST reads go through the exchange guard
(rate-limit cool-down, clock resync) and retry transient errors (passivbot.retry).

It also watches the user stream's liveness: a resting order of ours that the market traded
through (a ticker or a closed candle beyond its price) must be reported by the order stream
soon; if it is not within `fill_grace_s`, one REST read of the open orders tells whether it
filled. If it did, the user stream has gone silent (a Binance listen key expired on an open
socket): `on_silent_user()` restarts it, and the reconcile places the take-profits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from passivbot.exchanges.adapter import ExchangeAdapter
from passivbot.exchanges.errors import Action, Redactor, StopError, classify, describe
from passivbot.live.console import fill_line
from passivbot.live.diff import OpenOrder, is_ours
from passivbot.live.execution import Executor
from passivbot.live.state import MINUTE_MS, BotState
from passivbot.records import LONG, SHORT
from passivbot.retry import retry_async

TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")


async def _direct(fn):
    return await fn()


class StateSync:
    def __init__(self, adapter: ExchangeAdapter, state: BotState, executor: Executor,
                 log: logging.Logger, redact: Redactor, trigger: Callable[[str], None],
                 guard=None, fill_grace_s: float = 2.0) -> None:
        self.adapter, self.state, self.executor = adapter, state, executor
        self.log, self.redact, self.trigger = log, redact, trigger
        self.guard = guard
        self.guarded = guard.call if guard is not None else _direct
        self.time_offset = 0  # server - local clock, ms
        self.need_account = False  # positions / balance changed: read them before deciding
        self.need_reconcile = False  # our picture may be wrong: full REST read first
        self.fill_grace_s = fill_grace_s
        self.on_silent_user: Callable[[], None] = lambda: None
        # Each execution of ours: (ccxt trade, position side or None, is a buy). The bot's
        # LiveView reports it (PnL, maker/taker, journal, alerts); this default only logs.
        self.on_fill: Callable[[dict, int | None, bool], None] = self._log_fill
        self._suspects: dict[str, float] = {}  # order id -> monotonic deadline
        self._checked: dict[str, float] = {}  # order id -> when REST last showed it open
        self.silent_user_detected = 0
        self._gap_asked: tuple[int, float] = (-1, 0.0)  # (minute, when) last read from REST
        self.user_events = 0
        self.risk = None  # live/bounded_loss.BoundedLoss, set by the bot when the rules are on

    # -- REST ------------------------------------------------------------------------------
    async def rest(self, fn):
        return await retry_async(lambda: self.guarded(fn), attempts=4, base_delay=0.2,
                                 max_delay=5.0)

    async def setup_call(self, name: str, call) -> None:
        """A setup call (hedge mode, leverage): "already set" is fine, anything else stops."""
        try:
            await self.rest(call)
            self.log.info("%s set", name)
        except Exception as e:  # noqa: BLE001 - classified
            try:
                action = classify(e, "setup")
            except TypeError:
                raise e from None
            if action is Action.IGNORE:
                self.log.info("%s already set", name)
                return
            raise StopError(f"cannot set {name}: {describe(e, self.redact)}") from None

    async def fetch_closed_candles(self, start: int, now: int) -> np.ndarray:
        """Closed 1m candles with open time in [start, now - 1 min], paginated and bounded."""
        ex, sym = self.adapter.ex, self.adapter.symbol
        page = self.adapter.caps.ohlcv_page
        rows: dict[int, list] = {}
        since = start
        for _ in range(int((now - start) / MINUTE_MS / page) + 3):
            got = await self.rest(lambda s=since: ex.fetch_ohlcv(sym, "1m", since=s, limit=page))
            got = [r for r in got if r[0] >= since and r[0] + MINUTE_MS <= now]
            if not got:
                break
            for r in got:
                rows[int(r[0])] = r
            since = int(got[-1][0]) + MINUTE_MS
            if since + MINUTE_MS > now:
                break
        if not rows:
            return np.zeros((0, 6))
        return np.array([rows[t][:6] for t in sorted(rows)], dtype=np.float64)

    async def refresh_time(self) -> None:
        """Server time: ccxt signs with it (guard), candle closes are found by it."""
        if self.guard is not None:
            self.time_offset = await self.rest(self.guard.sync_time)
        else:
            server = int(await self.rest(lambda: self.adapter.ex.fetch_time()))
            self.time_offset = server - int(time.time() * 1000)
        self.state.note_time(int(time.time() * 1000) + self.time_offset)

    async def refresh_account(self) -> None:
        """Positions and wallet balance over REST (a side missing from the answer is flat)."""
        a = self.adapter
        positions = await self.rest(lambda: a.ex.fetch_positions([a.symbol]))
        got = a.positions(positions)
        for side in (LONG, SHORT):
            self.state.set_position(side, *got.get(side, (0.0, 0.0)))
        wb = a.wallet_balance(await self.rest(lambda: a.ex.fetch_balance()))
        if wb is not None:
            self.state.balance = wb
        self.need_account = False

    def parse_order(self, o: dict) -> OpenOrder | None:
        """A ccxt order of ours as an OpenOrder (None: not a hedge-mode order of ours)."""
        cid = str(o.get("clientOrderId") or "")
        side = self.adapter.order_side(o)
        if side is None or not is_ours(cid):
            return None
        close = (o.get("side") == "sell") if side == LONG else (o.get("side") == "buy")
        qty = o.get("remaining")
        if qty is None:
            qty = o.get("amount") or 0.0
        return OpenOrder(str(o["id"]), cid, side, close, float(qty), float(o.get("price") or 0.0),
                         self.state.ideal_prices.get(cid))

    def _foreign(self, o: dict) -> None:
        """Report an order that is not ours once; it is never cancelled or counted."""
        oid = str(o.get("id"))
        if oid not in self.state.foreign_orders:
            line = (f"{o.get('side')} {o.get('amount')} @ {o.get('price')} (id {oid}, "
                    f"client id {o.get('clientOrderId') or '-'})")
            self.state.foreign_orders[oid] = line
            self.log.warning("an order not placed by this bot rests on %s: %s; left alone",
                             self.adapter.symbol, line)

    async def refresh_open_orders(self) -> None:
        a = self.adapter
        orders = await self.rest(lambda: a.ex.fetch_open_orders(a.symbol))
        fresh = {}
        for o in orders:
            p = self.parse_order(o)
            if p is not None:
                fresh[p.id] = p
            else:
                self._foreign(o)
        self.state.open_orders.clear()
        self.state.open_orders.update(fresh)

    async def reconcile(self) -> None:
        """REST truth: time, positions, wallet balance, open orders (replaces the stream view)."""
        await self.refresh_time()
        await self.refresh_account()
        await self.refresh_open_orders()
        self._suspects.clear()
        self.need_reconcile = False

    async def apply_candles(self, fill_now: bool = False) -> None:
        """Apply closed candles to the EMAs in order; fill gaps from REST (bounded).

        A minute the exchange has no candle for is skipped only when a later candle exists
        (a real gap); if the exchange has nothing from that minute on, it has not closed it
        yet (our clock runs ahead): wait, and ask again at most every 2 s."""
        st = self.state
        self.peek_candles()
        for _ in range(5):
            n, gap = st.apply_closed(fill_now)
            if n:
                self.log.debug("EMAs updated on %d candle(s) up to %d", n, st.last_closed_ts)
                self._suspect_range(*st.last_range)
            if gap is None:
                return
            now = time.monotonic()
            if not fill_now and self._gap_asked[0] == gap and now - self._gap_asked[1] < 2.0:
                return
            self._gap_asked = (gap, now)
            got = await self.fetch_closed_candles(gap, st.exchange_time)
            for r in got:
                st.add_candle(int(r[0]), float(r[4]), float(r[2]), float(r[3]))
            if len(got) == 0:
                return  # not closed on the exchange yet
            if int(got[0, 0]) != gap:
                self.log.warning("no candle at %d on the exchange: EMAs skip that minute", gap)
                st.last_closed_ts = gap

    # -- user-stream liveness --------------------------------------------------------------
    def _suspect_range(self, high: float, low: float, tick: bool = False) -> None:
        """Our orders the market traded through (a buy above `low`, a sell below `high`)
        must be reported filled by the order stream within fill_grace_s. A tick does not
        suspect an order REST showed open in the last minute (a venue that fills per candle
        would otherwise cost a read every few seconds); a closed candle always does."""
        now = time.monotonic()
        for o in self.state.open_orders.values():
            if (o.is_buy and low < o.price) or (not o.is_buy and high > o.price):
                if tick and now - self._checked.get(o.id, -1e9) < 60.0:
                    continue
                self._suspects.setdefault(o.id, now + self.fill_grace_s)

    def overdue(self) -> bool:
        """Some order traded through was not reported within the grace (still thought open)."""
        now = time.monotonic()
        for oid, deadline in list(self._suspects.items()):
            if oid not in self.state.open_orders:
                del self._suspects[oid]
            elif now >= deadline:
                return True
        return False

    async def check_user_stream(self) -> bool:
        """One REST read when an order traded through went unreported: True (and the user
        stream restarted, a reconcile requested) if the exchange shows a fill we missed."""
        if not self.overdue():
            return False
        suspects = set(self._suspects)
        self._suspects.clear()
        before = {oid: o.qty for oid, o in self.state.open_orders.items() if oid in suspects}
        await self.refresh_open_orders()
        missed = [oid for oid, qty in before.items()
                  if oid not in self.state.open_orders or self.state.open_orders[oid].qty < qty]
        now = time.monotonic()
        if len(self._checked) > 1024:
            self._checked.clear()
        for oid in before:
            if oid in self.state.open_orders:
                self._checked[oid] = now
        if not missed:
            return False
        self.silent_user_detected += 1
        self.log.warning("the user stream missed %d fill(s): restarting it", len(missed))
        self.need_reconcile = True
        self.on_silent_user()
        self.trigger("silent user stream")
        return True

    # -- streams ---------------------------------------------------------------------------
    def on_orders(self, orders: list) -> None:
        st, changed = self.state, False
        self.user_events += 1
        for o in orders:
            if o.get("symbol") != self.adapter.symbol:
                continue
            st.note_time(o.get("lastUpdateTimestamp") or o.get("timestamp"))
            oid = str(o["id"])
            if not is_ours(o.get("clientOrderId")):
                if o.get("status") not in TERMINAL:
                    self._foreign(o)
                continue
            self._suspects.pop(oid, None)
            side = self.adapter.order_side(o)
            if side is not None:  # remembered so a later execution can be named (Bybit omits it)
                st.note_side(oid, side)
            if (o.get("status") in TERMINAL) or oid in self.executor.terminated:
                self.executor.note_terminated(oid)
                changed |= st.open_orders.pop(oid, None) is not None
                if side is not None and self.adapter.post_only_crossed(o):
                    close = (o.get("side") == "sell") if side == LONG else (o.get("side") == "buy")
                    cid = str(o.get("clientOrderId") or "")
                    price = self.state.ideal_prices.get(cid, float(o.get("price") or 0.0))
                    self.executor.note_crossed(side, close, price,
                                               self.adapter.caps.post_only_cancel_reason)
            else:
                p = self.parse_order(o)
                if p is not None and p.qty > 0:
                    changed |= st.open_orders.get(oid) != p
                    st.open_orders[oid] = p
            if float(o.get("filled") or 0.0) > 0.0:
                self.need_account = True
                changed = True
        if changed:
            self.trigger("orders")

    def on_trades(self, trades: list) -> None:
        self.user_events += 1
        for t in trades:
            if t.get("symbol") != self.adapter.symbol:
                continue
            self.state.note_time(t.get("timestamp"))
            self._suspects.pop(str(t.get("order")), None)
            side = self.adapter.order_side(t)
            if side is None:
                side = self.state.order_sides.get(str(t.get("order")))
            buy = t.get("side") == "buy"
            try:
                self.on_fill(t, side, buy)
            except Exception:  # noqa: BLE001 - what is shown must never stop the trading
                self.log.exception("reporting a fill failed")
            if self.risk is not None:  # -- bounded loss hook: unstuck loss (bounded_loss.py)
                fee = (t.get("fee") or {}).get("cost")
                self.risk.on_trade(side, (side == LONG) != buy, float(t.get("price") or 0),
                                   float(t.get("amount") or 0),
                                   None if fee is None else float(fee), self.state)
        self.need_account = True
        self.trigger("account")

    def _log_fill(self, t: dict, side: int | None, buy: bool) -> None:
        name = {LONG: "long", SHORT: "short"}.get(side, "?")
        action = "entry" if (side == LONG) == buy else "close"
        fee = (t.get("fee") or {}).get("cost")
        self.log.info(fill_line(name, action, float(t.get("amount") or 0),
                                float(t.get("price") or 0), fee))

    def on_positions(self, positions: list) -> None:
        self.user_events += 1
        for p in positions:
            self.state.note_time(p.get("timestamp"))
        changed = False
        for side, (size, price) in self.adapter.positions(positions).items():
            j = 0 if side == LONG else 1
            if (self.state.psize[j], self.state.pprice[j]) != (size, price if size > 0 else 0.0):
                self.state.set_position(side, size, price)
                changed = True
        if changed:
            self.trigger("positions")

    def on_balance(self, balance: dict) -> None:
        self.user_events += 1
        self.state.note_time(balance.get("timestamp"))
        wb = self.adapter.wallet_balance(balance)
        if wb is not None and wb != self.state.balance:
            self.state.balance = wb
            self.trigger("balance")

    def peek_candles(self) -> bool:
        """Fold in the newest rows of ccxt's kline cache; True if a candle already applied was
        revised. ccxt delivers a kline that arrived while no watch was pending only with the
        next one, so a minute's final kline can wait in the cache; reading it here (on each
        ticker and before candles are applied) lets it win within a ticker's interval."""
        try:
            rows = self.adapter.ex.ohlcvs[self.adapter.symbol]["1m"][-3:]
        except (AttributeError, KeyError, TypeError, IndexError):
            return False
        revised = False
        for r in rows:
            revised |= self.state.add_candle(int(r[0]), float(r[4]), float(r[2]), float(r[3]))
        return revised

    def on_candles(self, ohlcv: list) -> None:
        st = self.state
        for r in ohlcv:
            t = int(r[0])
            st.note_time(t)  # a candle that opened at t means every earlier one has closed
            if st.add_candle(t, float(r[4]), float(r[2]), float(r[3])):
                self.log.info("candle %d revised by its final kline: EMAs recomputed", t)
                self.trigger("candle")
        if any(t + MINUTE_MS <= st.exchange_time for t in st.pending):
            self.trigger("candle")

    def on_ticker(self, ticker: dict) -> None:
        """Last trade (status, liveness), top of book if the ticker has it. Never a re-price:
        the calculator's price is the last closed candle's close."""
        st = self.state
        st.note_time(ticker.get("timestamp"))
        self._book(ticker)
        if self.peek_candles():
            self.trigger("candle")
        last = ticker.get("last") or ticker.get("close")
        if last:
            st.set_last_price(float(last), int(ticker.get("timestamp") or st.exchange_time))
            self._suspect_range(float(last), float(last), tick=True)
        if st.pending and min(st.pending) + MINUTE_MS <= st.exchange_time:
            self.trigger("candle")

    def on_book(self, tickers) -> None:
        """Best bid / ask (watch_bids_asks: {symbol: ticker} or a list)."""
        rows = tickers.values() if isinstance(tickers, dict) else (tickers or [])
        for t in rows:
            if isinstance(t, dict) and t.get("symbol") in (None, self.adapter.symbol):
                self._book(t)

    def _book(self, t: dict) -> None:
        bid, ask = t.get("bid"), t.get("ask")
        if bid and ask and float(bid) < float(ask):
            self.state.bid, self.state.ask = float(bid), float(ask)
