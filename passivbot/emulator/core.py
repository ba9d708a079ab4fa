"""The emulator's matching core: one symbol's book (positions per side, orders) on one wallet.

An `Account` is one symbol's side of the exchange account; its `balance` is its `Wallet`'s, so
several Accounts sharing one Wallet are one cross-margin account trading several symbols
(`emulator.wallet` settles their minutes together, by the multi-symbol backtest's rules). Alone
on its wallet an Account is exactly the one-symbol emulator.

Pure Python bookkeeping around the shared njit fill rule (`passivbot.fills`): resting orders are
filled only by `fill_sequence_nb` + `apply_fill_nb`, liquidation only by `passivbot.margin`, so
the emulator and the backtester cannot disagree. Protocol front-ends (Binance, Bybit) translate
requests into calls here and the events emitted here into their stream messages.

Units: prices in quote (USDT), quantities in base coin, time in ms. Sides are LONG / SHORT ints.
Failures are data: `Reject(code, detail)`; each front-end maps `code` to the exchange's error.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from passivbot.fills import apply_fill_nb, fill_kind_nb, fill_sequence_nb, market_price_nb
from passivbot.margin import (
    available_margin_nb, entry_margin_ok_nb, funding_payment_nb, hedged_liq_price_nb,
    initial_margin_nb, is_liquidated_nb, liquidation_balance_nb, liquidation_fill_price_nb,
)
from passivbot.markets import MarketSpec
from passivbot.emulator.perp import FundingClock
from passivbot.numeric import is_on_step_nb
from passivbot.records import (
    BOOK_COLS, KIND_CLOSE, KIND_LIQUIDATION, KIND_REENTRY, LONG, SHORT,
)

# Reject codes (front-ends map them to exchange errors).
R_MARGIN = "margin"
R_UNKNOWN_ORDER = "unknown_order"
R_REDUCE_ONLY = "reduce_only"
R_POST_ONLY = "post_only"
R_BAD_SYMBOL = "bad_symbol"
R_DUPLICATE_CID = "duplicate_cid"
R_PRICE_STEP = "price_step"
R_QTY_STEP = "qty_step"
R_MIN_NOTIONAL = "min_notional"
R_POSITION_SIDE = "position_side"
R_REJECTED = "rejected"  # injected fault
R_BAD_PARAM = "bad_param"
R_LEVERAGE = "leverage"
R_NO_CHANGE = "no_change"


@dataclass(frozen=True)
class Reject:
    code: str
    detail: str = ""


@dataclass
class Order:
    id: int
    client_id: str
    symbol: str
    is_buy: bool
    side: int  # position side: LONG / SHORT
    close: bool  # reduces the position (close kind) rather than entering
    qty: float
    price: float  # limit price (market orders: 0)
    order_type: str  # "LIMIT" | "MARKET"
    post_only: bool
    reduce_only: bool
    created_ms: int
    status: str = "NEW"  # NEW | FILLED | CANCELED | EXPIRED
    filled: float = 0.0
    avg_price: float = 0.0
    updated_ms: int = 0
    explicit_side: bool = True  # positionSide given (hedge-mode order)


@dataclass
class Position:
    size: float = 0.0
    price: float = 0.0


Listener = Callable[[str, dict], None]


class Wallet:
    """The one wallet balance of an exchange account and the symbols' books drawing on it
    (cross margin: every book's entries, unrealized pnl and liquidation see all of them)."""

    def __init__(self, balance: float) -> None:
        self.balance = float(balance)
        self.books: list = []  # Accounts in symbol order (the settlement order)
        self.marks: dict | None = None  # id(book) -> price: margin marks during a settlement
        # the minute whose open is settled (funding charged, gap decided: wallet.open_minute)
        self.opened = -1
        self.blocked = False  # that minute opened past the liquidation price: nothing trades


@dataclass
class Account:
    """State of the emulated account; mutate only through the methods (they emit events)."""

    spec: MarketSpec
    candles: np.ndarray
    clock: int
    balance: float
    maker_fee: float
    taker_fee: float
    leverage: int = 20
    hedge_mode: bool = False
    positions: dict = field(default_factory=lambda: {LONG: Position(), SHORT: Position()})
    open_orders: dict = field(default_factory=dict)  # id -> Order
    closed_orders: dict = field(default_factory=dict)  # id -> Order (filled, canceled, expired)
    fills: list = field(default_factory=list)  # dicts with the fill_dt fields + order_id, taker
    listeners: list = field(default_factory=list)
    _next_id: int = 8_389_765_000_000_001
    # Realistic mode (emulator.path): the tick in progress inside candle `clock` and its top of
    # book. tick_price 0: no tick (minute mode, or before the first path point).
    realistic: bool = False
    tick_price: float = 0.0
    tick_ms: int = 0  # ms from the open of candle `clock`
    bid: float = 0.0
    ask: float = 0.0
    partial_share: float = 0.0  # share of fills split into 2-3 executions (seeded below)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    # Perpetual-futures accounting (emulator.perp): the funding events on the candle clock, what
    # they charged [(minute, side, payment > 0: paid)], and resting entry fills refused for margin.
    # `funding_log`: the same charges as the venues' account history lists them (the income /
    # execution endpoints, emulator.income): dicts time (the event's ms), side, pay, rate, mark,
    # size (the position charged).
    funding: FundingClock | None = None
    funding_paid: list = field(default_factory=list)
    funding_log: list = field(default_factory=list)
    margin_refused: int = 0

    # -- time and prices ---------------------------------------------------------------------
    def now_ms(self) -> int:
        """Server time: the open of the candle in progress (extrapolated past the data)."""
        n = len(self.candles)
        if self.clock < n:
            return int(self.candles[self.clock, 0]) + self.tick_ms
        return int(self.candles[n - 1, 0]) + 60_000 * (self.clock - n + 1)

    @property
    def last_price(self) -> float:
        """The last trade: the tick in progress (realistic mode), else the last close."""
        if self.tick_price > 0.0:
            return self.tick_price
        return float(self.candles[max(self.clock - 1, 0), 4])

    def set_tick(self, price: float, bid: float, ask: float, offset_ms: int) -> None:
        """Realistic mode: the path's point now (emulator.path); prices, book and time."""
        self.tick_price, self.bid, self.ask, self.tick_ms = price, bid, ask, offset_ms

    def crosses(self, is_buy: bool, price: float) -> bool:
        """Whether a limit order at `price` would take liquidity: against the best opposite
        price in the realistic mode (a buy at or above the ask), else against the last close
        (strictly: the minute mode's rule, no spread)."""
        if self.realistic and self.ask > 0.0:
            return price >= self.ask if is_buy else price <= self.bid
        last = self.last_price
        return price > last if is_buy else price < last

    def taker_price(self, is_buy: bool, market_order: bool = False) -> float:
        """What a taker order gets now: a market order at a candle's open (minute mode: always;
        realistic mode: before its path has moved) the shared rule `fills.market_price_nb` (the
        open one step through the book: the backtest's price for the equity stop's close);
        else the best opposite price (realistic mode), the open of the candle in progress
        (minute mode), the last close past the data."""
        at_open = not self.realistic or self.tick_ms == 0
        if market_order and at_open and 0 < self.clock < len(self.candles):
            return market_price_nb(is_buy, float(self.candles[self.clock, 1]),
                                   self.spec.market_array())
        if self.realistic and self.ask > 0.0:
            return self.ask if is_buy else self.bid
        if 0 < self.clock < len(self.candles):
            return float(self.candles[self.clock, 1])
        return self.last_price

    def own_upnl(self, price: float | None = None) -> float:
        """Unrealized pnl of this symbol's two positions at `price` (default: last price)."""
        p = self.last_price if price is None else price
        return sum(s * pos.size * (p - pos.price) for s, pos in self.positions.items())

    def margin_mark(self) -> float:
        """The price this book's positions count at in another book's margin check: its
        previous close while the wallet settles a minute (the backtest's), else the last."""
        marks = self.wallet.marks
        if marks is not None and id(self) in marks:
            return marks[id(self)]
        return self.last_price

    def upnl(self, price: float | None = None) -> float:
        """Unrealized pnl of the account: this symbol at `price` (default: last price), every
        other symbol on the wallet at its own last price."""
        return sum(b.own_upnl(price if b is self else b.margin_mark()) for b in self.wallet.books)

    def initial_margin(self, extra_qty: float = 0.0, extra_price: float = 0.0) -> float:
        """Initial margin of positions + open entry orders (+ a candidate entry order), of
        every symbol on the wallet."""
        return sum(b._own_im(0.0, 0.0) for b in self.wallet.books if b is not self) + \
            self._own_im(extra_qty, extra_price)

    def _own_im(self, extra_qty: float, extra_price: float) -> float:
        notional = sum(p.size * p.price for p in self.positions.values())
        notional += sum(o.qty * (o.price or self.last_price)
                        for o in self.open_orders.values() if not o.close)
        notional += extra_qty * extra_price
        return notional / self.leverage

    def own_notional(self) -> float:
        """Position cost of this symbol (both sides), the initial margin's base."""
        return sum(p.size * p.price for p in self.positions.values())

    def available(self) -> float:
        """Available margin (the shared rule, `margin.available_margin_nb`)."""
        return available_margin_nb(self.balance, self.upnl(), self.initial_margin(), 0.0)

    def entry_fits(self, qty: float, price: float, upnl_price: float) -> bool:
        """THE entry margin rule, the backtester's (`backtest.account.settle_nb`): the entry's
        initial margin fits in wallet balance + unrealized pnl at `upnl_price` - the initial
        margin of the positions (open orders reserve nothing: the backtest cannot know which
        of its resting orders an exchange would have accepted, so both check at the fill)."""
        notional = sum(b.own_notional() for b in self.wallet.books)
        im_pos = initial_margin_nb(notional, self.leverage)
        return entry_margin_ok_nb(available_margin_nb(self.balance, self.upnl(upnl_price), im_pos,
                                                      0.0), qty, price, self.leverage)

    def settle_funding(self, rate: float, mark: float, time_ms: int | None = None) -> list:
        """Charge one funding event on both positions at `mark` (`margin.funding_payment_nb`,
        the backtester's rule); returns [(side, payment)] (payment > 0: paid). `time_ms`: the
        event's time (default: now), the time the account history reports."""
        paid = []
        t = self.now_ms() if time_ms is None else int(time_ms)
        for side, pos in self.positions.items():
            if pos.size > 0.0:
                pay = funding_payment_nb(side, pos.size, mark, rate)
                self.balance -= pay
                paid.append((side, pay))
                self.funding_log.append({"time": t, "side": side, "pay": pay, "rate": rate,
                                         "mark": mark, "size": pos.size})
        if paid:
            self.funding_paid += [(self.clock, side, pay) for side, pay in paid]
            self.emit("account", {"reason": "FUNDING_FEE", "funding": paid, "rate": rate,
                                  "mark": mark})
        return paid

    # -- events --------------------------------------------------------------------------------
    def emit(self, kind: str, payload: dict) -> None:
        payload.setdefault("acc", self)  # which symbol's book (a multi-symbol wallet)
        for fn in list(self.listeners):
            fn(kind, payload)

    # -- orders --------------------------------------------------------------------------------
    def find(self, order_id: int | None = None, client_id: str | None = None) -> Order | None:
        for book in (self.open_orders, self.closed_orders):
            if order_id is not None and order_id in book:
                return book[order_id]
            if client_id:
                for o in book.values():
                    if o.client_id == client_id:
                        return o
        return None

    def resolve_side(self, is_buy: bool, position_side: int | None, reduce_only: bool) -> tuple:
        """(side, close) of an order; one-way mode maps buy/sell to the side it acts on."""
        if position_side is not None:
            return position_side, is_buy != (position_side == LONG)
        if reduce_only:
            return (SHORT if is_buy else LONG), True
        opposite = SHORT if is_buy else LONG
        if self.positions[opposite].size > 0.0:
            return opposite, True
        return (LONG if is_buy else SHORT), False

    def place(self, *, is_buy: bool, qty: float, price: float, order_type: str = "LIMIT",
              position_side: int | None = None, reduce_only: bool = False,
              post_only: bool = False, client_id: str = "", reject: bool = False,
              post_only_cancels: bool = False) -> Order | Reject:
        """Validate and accept an order; crossing non-post-only orders fill now as taker.

        A crossing post-only order is rejected (Binance) or, with `post_only_cancels`, accepted
        and cancelled at once (Bybit v5: the REST call succeeds, the stream says Cancelled).
        """
        if position_side is not None and not self.hedge_mode:
            return Reject(R_POSITION_SIDE)
        if position_side is None and self.hedge_mode:
            return Reject(R_POSITION_SIDE)
        if client_id and self.find(client_id=client_id) is not None:
            return Reject(R_DUPLICATE_CID)
        if not (qty > 0.0) or (order_type == "LIMIT" and not (price > 0.0)):
            return Reject(R_BAD_PARAM, "qty and price must be positive")
        if reject:
            return Reject(R_REJECTED)
        spec = self.spec
        if not is_on_step_nb(qty, spec.qty_step) or qty < spec.min_qty - 1e-12:
            return Reject(R_QTY_STEP)
        if order_type == "LIMIT" and not is_on_step_nb(price, spec.price_step):
            return Reject(R_PRICE_STEP)
        side, close = self.resolve_side(is_buy, position_side, reduce_only)
        no_position = self.positions[side].size <= 0.0
        if (reduce_only or position_side is not None) and close and no_position:
            return Reject(R_REDUCE_ONLY)
        if reduce_only and not close:
            return Reject(R_REDUCE_ONLY)
        crosses = order_type == "MARKET" or self.crosses(is_buy, price)
        if post_only and crosses and not post_only_cancels:
            return Reject(R_POST_ONLY)
        last = self.taker_price(is_buy, market_order=order_type == "MARKET")
        ref_price = last if crosses else price
        if not close and qty * ref_price < spec.min_cost - 1e-9:
            return Reject(R_MIN_NOTIONAL, f"{spec.min_cost:g}")
        if not close and not self.entry_fits(qty, ref_price, self.last_price):
            return Reject(R_MARGIN)
        now = self.now_ms()
        order = Order(self._next_id, client_id or f"emu{self._next_id}", spec.symbol, is_buy,
                      side, close, qty, price if order_type == "LIMIT" else 0.0, order_type,
                      post_only, reduce_only, now, updated_ms=now,
                      explicit_side=position_side is not None)
        self._next_id += 1
        self.open_orders[order.id] = order
        self.emit("order", {"order": order, "exec": "NEW", "fill": None})
        if post_only and crosses:
            self._finish(order, "CANCELED")
        elif crosses:
            from passivbot.emulator.wallet import open_minute  # it imports this module

            open_minute(self.wallet)  # the funding due at this minute's open comes first
            self._settle(order, last, self.taker_fee, taker=True)
            self.emit("account", {"reason": "ORDER"})
        return order

    def cancel(self, order_id: int | None = None, client_id: str | None = None) -> Order | Reject:
        order = self.find(order_id, client_id)
        if order is None or order.id not in self.open_orders:
            return Reject(R_UNKNOWN_ORDER)
        self._finish(order, "CANCELED")
        return order

    def cancel_all(self) -> list:
        return [self._finish(o, "CANCELED") for o in list(self.open_orders.values())]

    def set_leverage(self, leverage: int) -> int | Reject:
        if not 1 <= leverage <= self.spec.max_leverage:
            return Reject(R_LEVERAGE)
        self.leverage = int(leverage)
        return self.leverage

    def can_set_hedge_mode(self, hedge: bool) -> Reject | None:
        """Why the position mode cannot change now (None: it can)."""
        if hedge == self.hedge_mode:
            return Reject(R_NO_CHANGE)
        if self.open_orders or any(p.size > 0.0 for p in self.positions.values()):
            return Reject(R_BAD_PARAM, "open orders or positions")
        return None

    def set_hedge_mode(self, hedge: bool) -> bool | Reject:
        r = self.can_set_hedge_mode(hedge)
        if r is not None:
            return r
        self.hedge_mode = hedge
        return hedge

    def _finish(self, order: Order, status: str) -> Order:
        order.status = status
        order.updated_ms = self.now_ms()
        self.open_orders.pop(order.id, None)
        self.closed_orders[order.id] = order
        self.emit("order", {"order": order, "exec": status if status != "FILLED" else "TRADE",
                            "fill": None})
        return order

    def _settle(self, order: Order, price: float, fee_rate: float, taker: bool,
                kind: int | None = None, parts: int = 1) -> dict | None:
        """Apply one fill of `order` at `price` through the shared fill function.

        `parts` > 1 (realistic mode): the stream and the trade history see that many
        executions (the first ones PARTIALLY_FILLED), but the final state is the one call of
        `apply_fill_nb` for the whole quantity, exactly the backtester's."""
        pos = self.positions[order.side]
        if kind is None:  # the one naming rule (fills.fill_kind_nb), as the backtest records
            kind = KIND_CLOSE if order.close else fill_kind_nb(KIND_REENTRY, pos.size)
        before = (pos.size, pos.price, self.balance)
        size, pprice, balance, q, fee, pnl = apply_fill_nb(
            order.side, kind, order.qty, price, fee_rate, pos.size, pos.price, self.balance,
            self.spec.qty_step)
        now = self.now_ms()
        order.updated_ms = now
        if q <= 0.0:
            self.open_orders.pop(order.id, None)
            self.closed_orders[order.id] = order
            order.status = "EXPIRED"
            self.emit("order", {"order": order, "exec": "EXPIRED", "fill": None})
            return None
        done_q = done_fee = done_pnl = 0.0
        for cut in self._part_sizes(q, parts):  # the partial executions, then the last one
            s_, p_, b_, q_, f_, n_ = apply_fill_nb(order.side, kind, cut, price, fee_rate,
                                                   before[0], before[1], before[2],
                                                   self.spec.qty_step)
            pos.size, pos.price, self.balance = s_, p_, b_
            order.status, order.filled, order.avg_price = "PARTIALLY_FILLED", q_, price
            self._record(order, kind, q_ - done_q, price, f_ - done_fee, n_ - done_pnl, taker)
            done_q, done_fee, done_pnl = q_, f_, n_
        self.open_orders.pop(order.id, None)
        self.closed_orders[order.id] = order
        pos.size, pos.price, self.balance = size, pprice, balance
        order.status, order.filled, order.avg_price = "FILLED", q, price
        return self._record(order, kind, q - done_q, price, fee - done_fee, pnl - done_pnl,
                            taker)

    def _part_sizes(self, q: float, parts: int) -> list[float]:
        """Cumulative quantities of the executions before the last (on the qty step)."""
        steps = int(round(q / self.spec.qty_step))
        parts = min(parts, steps)
        if parts <= 1:
            return []
        cuts = sorted(self.rng.sample(range(1, steps), parts - 1))
        return [round(c * self.spec.qty_step, 12) for c in cuts]

    def _record(self, order: Order, kind: int, q: float, price: float, fee: float, pnl: float,
                taker: bool) -> dict:
        pos = self.positions[order.side]
        fill = {"minute": self.clock, "timestamp": self.now_ms(), "side": order.side,
                "kind": kind, "qty": q, "price": price, "fee": fee, "pnl": pnl,
                "psize": pos.size, "pprice": pos.price, "balance": self.balance,
                "order_id": order.id, "taker": taker, "cum": order.filled,
                "n": len(self.fills)}
        self.fills.append(fill)
        self.emit("order", {"order": order, "exec": "TRADE", "fill": fill})
        return fill

    def draw_parts(self) -> int:
        """How many executions the next resting fill gets (realistic mode; seeded)."""
        if self.partial_share <= 0.0 or self.rng.random() >= self.partial_share:
            return 1
        return self.rng.choice((2, 2, 3))

    # -- the clock ---------------------------------------------------------------------------
    def book(self) -> tuple:
        """(orders, book array) of the resting limit orders as the fill rule takes them."""
        orders = [o for o in self.open_orders.values() if o.order_type == "LIMIT"]
        book = np.zeros((len(orders), BOOK_COLS))
        for r, o in enumerate(orders):
            book[r] = (o.qty, o.price, KIND_CLOSE if o.close else KIND_REENTRY, o.side)
        return orders, book

    def step(self) -> list:
        """Settle candle `clock` in the backtester's order (`backtest.engine`): the funding due at
        its open; unless it opens past the liquidation price (as it was before that funding),
        the resting orders by the fill rule, an entry the margin cannot carry staying unfilled
        (`entry_fits`, unrealized pnl at the previous close); then liquidation. clock += 1.
        Returns its fills. One rule for one symbol and several: this is `emulator.wallet.
        step_wallet` of this book's wallet (with other symbols on it, their minute settles too)."""
        from passivbot.emulator.wallet import step_wallet  # it imports this module

        return step_wallet(self.wallet)

    def fund(self, i: int) -> None:
        """The funding events due at candle i's open, on this symbol's positions."""
        if self.funding is not None:
            k0 = self.funding.next  # the events `due` returns are times[k0], times[k0 + 1] ...
            for k, (rate, mark) in enumerate(self.funding.due(self.candles[i, 0],
                                                              float(self.candles[i, 1])), k0):
                if any(p.size > 0.0 for p in self.positions.values()):
                    self.settle_funding(rate, mark, int(self.funding.times[k]))

    def fill_resting(self, i: int) -> list:
        """Candle i's fills of the resting orders by the shared rule (entries that the margin
        cannot carry stay unfilled); the account event after them."""
        low, high = float(self.candles[i, 3]), float(self.candles[i, 2])
        prev_close = float(self.candles[max(i - 1, 0), 4])
        fills = []
        orders, book = self.book()
        for r in fill_sequence_nb(book, low, high):
            o = orders[r]
            if not o.close and not self.entry_fits(o.qty, o.price, prev_close):
                self.margin_refused += 1
                continue
            f = self._settle(o, float(book[r, 1]), self.maker_fee, taker=False,
                             parts=self.draw_parts())
            if f is not None:
                fills.append(f)
        if fills:
            self.emit("account", {"reason": "ORDER"})
        return fills

    def end_candle(self, i: int) -> None:
        """Candle i is settled: the clock moves on and its kline is published."""
        self.clock = i + 1
        self.tick_ms = 0  # realistic mode: the next candle's path has not started
        self.emit("kline", {"index": i})

    def liq_price(self) -> tuple:
        """(hedged liquidation price, direction) of the account now (`margin`)."""
        lp_, sp_ = self.positions[LONG], self.positions[SHORT]
        return hedged_liq_price_nb(self.balance, lp_.size, lp_.price, sp_.size, sp_.price,
                                   self.spec.brackets_array(), self.spec.mmr_add)

    def _check_liquidation(self, low: float, high: float) -> list:
        liq, direction = self.liq_price()
        if not is_liquidated_nb(liq, direction, low, high):
            return []
        for b in self.wallet.books:
            b.cancel_all()
        open_ = float(self.candles[min(self.clock, len(self.candles) - 1), 1])
        liq = liquidation_fill_price_nb(liq, direction, open_)
        return end_in_liquidation(self.wallet, self.close_all_at(liq), [self])

    def close_all_at(self, price: float) -> list:
        """Liquidation: both positions closed at `price` with the taker fee, long first (the
        backtester's settlement order)."""
        liq = price
        fills = []
        for side in (LONG, SHORT):  # the backtester's settlement order
            pos = self.positions[side]
            if pos.size > 0.0:
                o = Order(self._next_id, f"autoclose-{self._next_id}", self.spec.symbol,
                          side == SHORT, side, True, pos.size, liq, "LIMIT", False, True,
                          self.now_ms())
                self._next_id += 1
                f = self._settle(o, liq, self.taker_fee, taker=True, kind=KIND_LIQUIDATION)
                if f is not None:
                    fills.append(f)
        return fills


def end_in_liquidation(wallet: Wallet, fills: list, books: list) -> list:
    """After a liquidation's closes (`fills`) of `books`: the margin left is lost, the balance
    never negative (`margin.liquidation_balance_nb`), charged as a fee on the last fill (the
    backtest's `account.end_in_liquidation_nb`); each liquidated book announces it."""
    wallet.balance, lost = liquidation_balance_nb(wallet.balance)
    if fills:
        fills[-1]["fee"] += lost
        fills[-1]["balance"] = wallet.balance
    for b in books:
        b.emit("account", {"reason": "LIQUIDATION"})
    return fills


def _get_balance(self) -> float:
    return self.wallet.balance


def _set_balance(self, value: float) -> None:
    w = self.__dict__.get("wallet")
    if w is None:  # the dataclass __init__: a wallet of its own (alone: one-symbol)
        w = self.__dict__["wallet"] = Wallet(value)
        w.books.append(self)
    else:
        w.balance = value


Account.balance = property(_get_balance, _set_balance,
                           doc="The wallet balance (the Wallet's, shared by its symbols' books).")
