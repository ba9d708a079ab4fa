"""Stream payload handlers and the REST reads that heal state (functions over a LiveBot).

Handlers only update `bot.state` and call `bot.trigger()`; they never send anything, so a
burst of messages becomes one cycle. REST reads retry transient errors (passivbot.retry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from passivbot.exchanges.errors import Action, StopError, classify, describe
from passivbot.live.console import fill_line
from passivbot.live.diff import OpenOrder
from passivbot.live.state import MINUTE_MS
from passivbot.records import LONG, SHORT
from passivbot.retry import retry_async

if TYPE_CHECKING:
    from passivbot.live.bot import LiveBot

TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")


async def rest(bot: "LiveBot", fn):
    return await retry_async(fn, attempts=4, base_delay=0.2, max_delay=5.0)


async def setup_call(bot: "LiveBot", name: str, call) -> None:
    """A setup call (hedge mode, leverage): "already set" is fine, anything else stops."""
    try:
        await rest(bot, call)
        bot.log.info("%s set", name)
    except Exception as e:  # noqa: BLE001 - classified
        try:
            action = classify(e, "setup")
        except TypeError:
            raise e from None
        if action is Action.IGNORE:
            bot.log.info("%s already set", name)
            return
        raise StopError(f"cannot set {name}: {describe(e, bot.redact)}") from None


# -- REST ----------------------------------------------------------------------------------
async def fetch_closed_candles(bot: "LiveBot", start: int, now: int) -> np.ndarray:
    """Closed 1m candles with open time in [start, now - 1 min], paginated and bounded."""
    ex, sym = bot.adapter.ex, bot.adapter.symbol
    page = bot.adapter.caps.ohlcv_page
    rows: dict[int, list] = {}
    since = start
    for _ in range(int((now - start) / MINUTE_MS / page) + 3):
        got = await rest(bot, lambda s=since: ex.fetch_ohlcv(sym, "1m", since=s, limit=page))
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


async def refresh_time(bot: "LiveBot") -> None:
    """Exchange time over REST: after lost stream messages, candle closes are found by it."""
    import time

    server = int(await rest(bot, lambda: bot.adapter.ex.fetch_time()))
    bot.time_offset = server - int(time.time() * 1000)  # the local clock drifts over weeks
    bot.state.note_time(server)


async def refresh_account(bot: "LiveBot") -> None:
    """Positions and wallet balance over REST (a side missing from the answer is flat)."""
    a = bot.adapter
    positions = await rest(bot, lambda: a.ex.fetch_positions([a.symbol]))
    got = a.positions(positions)
    for side in (LONG, SHORT):
        bot.state.set_position(side, *got.get(side, (0.0, 0.0)))
    bal = await rest(bot, lambda: a.ex.fetch_balance())
    wb = a.wallet_balance(bal)
    if wb is not None:
        bot.state.balance = wb


def parse_order(bot: "LiveBot", o: dict) -> OpenOrder | None:
    side = bot.adapter.order_side(o)
    if side is None:
        return None
    close = (o.get("side") == "sell") if side == LONG else (o.get("side") == "buy")
    qty = o.get("remaining")
    if qty is None:
        qty = o.get("amount") or 0.0
    return OpenOrder(str(o["id"]), str(o.get("clientOrderId") or ""), side, close, float(qty),
                     float(o.get("price") or 0.0))


async def refresh_open_orders(bot: "LiveBot") -> None:
    a = bot.adapter
    orders = await rest(bot, lambda: a.ex.fetch_open_orders(a.symbol))
    fresh = {}
    for o in orders:
        p = parse_order(bot, o)
        if p is not None:
            fresh[p.id] = p
        else:  # not a hedge-mode order of ours: keep it visible so the diff cancels it
            fresh[str(o["id"])] = OpenOrder(str(o["id"]), str(o.get("clientOrderId") or ""),
                                            None, False, float(o.get("amount") or 0),
                                            float(o.get("price") or 0))
    bot.state.open_orders.clear()
    bot.state.open_orders.update(fresh)


async def apply_candles(bot: "LiveBot", fill_now: bool = False) -> None:
    """Apply closed candles to the EMAs in order; fill gaps from REST (bounded)."""
    st = bot.state
    for _ in range(5):
        n, gap = st.apply_closed(fill_now)
        if n:
            bot.log.debug("EMAs updated on %d candle(s) up to %d", n, st.last_closed_ts)
        if gap is None:
            return
        got = await fetch_closed_candles(bot, gap, st.exchange_time)
        for r in got:
            st.add_candle(int(r[0]), float(r[4]))
        if len(got) == 0 or int(got[0, 0]) != gap:
            bot.log.warning("no candle at %d on the exchange: EMAs skip that minute", gap)
            st.last_closed_ts = gap


# -- streams -------------------------------------------------------------------------------
def on_orders(bot: "LiveBot", orders: list) -> None:
    st, changed = bot.state, False
    for o in orders:
        if o.get("symbol") != bot.adapter.symbol:
            continue
        st.note_time(o.get("lastUpdateTimestamp") or o.get("timestamp"))
        oid = str(o["id"])
        side = bot.adapter.order_side(o)
        if side is not None:  # remembered so a later execution can be named (Bybit omits it)
            st.note_side(oid, side)
        if (o.get("status") in TERMINAL) or oid in bot.executor.terminated:
            bot.executor.note_terminated(oid)
            changed |= st.open_orders.pop(oid, None) is not None
        else:
            p = parse_order(bot, o)
            if p is not None and p.qty > 0:
                changed |= st.open_orders.get(oid) != p
                st.open_orders[oid] = p
        if float(o.get("filled") or 0.0) > 0.0:
            bot._need_account = True
            changed = True
    if changed:
        bot.trigger("orders")


def on_trades(bot: "LiveBot", trades: list) -> None:
    for t in trades:
        if t.get("symbol") != bot.adapter.symbol:
            continue
        bot.state.note_time(t.get("timestamp"))
        side = bot.adapter.order_side(t)
        if side is None:
            side = bot.state.order_sides.get(str(t.get("order")))
        buy = t.get("side") == "buy"
        name = {LONG: "long", SHORT: "short"}.get(side, "?")
        action = "entry" if (side == LONG) == buy else "close"
        fee = (t.get("fee") or {}).get("cost")
        bot.log.info(fill_line(name, action, float(t.get("amount") or 0),
                               float(t.get("price") or 0), fee))
    bot.request_account()


def on_positions(bot: "LiveBot", positions: list) -> None:
    for p in positions:
        bot.state.note_time(p.get("timestamp"))
    changed = False
    for side, (size, price) in bot.adapter.positions(positions).items():
        j = 0 if side == LONG else 1
        if (bot.state.psize[j], bot.state.pprice[j]) != (size, price if size > 0 else 0.0):
            bot.state.set_position(side, size, price)
            changed = True
    if changed:
        bot.trigger("positions")


def on_balance(bot: "LiveBot", balance: dict) -> None:
    bot.state.note_time(balance.get("timestamp"))
    wb = bot.adapter.wallet_balance(balance)
    if wb is not None and wb != bot.state.balance:
        bot.state.balance = wb
        bot.trigger("balance")


def on_candles(bot: "LiveBot", ohlcv: list) -> None:
    st = bot.state
    for r in ohlcv:
        t = int(r[0])
        st.note_time(t)  # a candle that opened at t means every earlier one has closed
        st.add_candle(t, float(r[4]))
    if any(t + MINUTE_MS <= st.exchange_time for t in st.pending):
        bot.trigger("candle")


def on_ticker(bot: "LiveBot", ticker: dict) -> None:
    st = bot.state
    st.note_time(ticker.get("timestamp"))
    last = ticker.get("last") or ticker.get("close")
    if last and st.set_last_price(float(last), int(ticker.get("timestamp") or st.exchange_time)):
        bot.trigger("price")
    elif st.pending and min(st.pending) + MINUTE_MS <= st.exchange_time:
        bot.trigger("candle")
