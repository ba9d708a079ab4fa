"""What the bot knows about its account and market, and the EMA bookkeeping on closed candles.

Sides are indexed j = 0 (LONG) and 1 (SHORT) in arrays; positions are magnitudes. EMAs are
updated exactly as the backtester does: seeded with the first close of the history, then
`grid.ema_update_nb` once per closed 1m candle, in order, with no candle skipped or doubled.
A candle with open time t counts as closed when the exchange time is >= t + 60 000 ms.

The calculator's "last price" is `close_price`, the close of the last closed candle, exactly
as the backtester computes orders from the state after each closed candle: the ideal orders
then change at most once a minute in a steady market (never on a tick), and backtest = live
holds. Tickers only update `last_price` (status) and the top of book (`bid`, `ask`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from passivbot.grid import ema_alpha_nb, ema_update_nb, emas_from_closes_nb
from passivbot.live.diff import OpenOrder
from passivbot.records import LONG, P_EMA_SPAN_0, P_EMA_SPAN_1, SHORT

MINUTE_MS = 60_000
RECENT_CANDLES = 5  # applied candles a late final kline may still revise
SIDES = (LONG, SHORT)


def side_index(side: int) -> int:
    return 0 if side == LONG else 1


@dataclass
class BotState:
    params: np.ndarray  # (2, N_PARAMS): long, short
    balance: float = 0.0  # wallet balance (not equity), quote
    psize: np.ndarray = field(default_factory=lambda: np.zeros(2))
    pprice: np.ndarray = field(default_factory=lambda: np.zeros(2))
    emas: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))  # [side j, span k]
    last_price: float = 0.0  # last trade (ticker), for the status line and liveness checks
    last_price_ts: int = 0  # exchange time of last_price, ms
    close_price: float = 0.0  # close of the last closed candle: the calculator's last price
    last_range: tuple[float, float] = (0.0, 0.0)  # (high, low) of the last closed candle
    bid: float = 0.0  # best bid / ask when known (0: unknown), for post-only prices
    ask: float = 0.0
    exchange_time: int = 0  # ms, max event timestamp seen (and corrected local clock)
    last_closed_ts: int = -1  # open time of the last candle applied to the EMAs
    open_orders: dict[str, OpenOrder] = field(default_factory=dict)
    # candle open time -> (high, low, close), received but not yet applied
    pending: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    candles_applied: int = 0
    # With a local clock, a minute is taken as closed only this long after its end (or once
    # a later candle arrived), so the final close of the candle is the one applied.
    close_grace_ms: int = 0
    # A minute closed by the clock whose candle has not arrived this long after the grace is
    # read from REST (the stream may hold it back: ccxt delivers a message that arrived while
    # no watch was pending only with the next one).
    late_ms: int = MINUTE_MS
    order_sides: dict[str, int] = field(default_factory=dict)  # order id -> side, recent
    # client id -> the calculator's price the order was placed for (a post-only price may
    # have been moved behind the book): the diff compares the ideal with this, not the price.
    ideal_prices: dict[str, float] = field(default_factory=dict)
    foreign_orders: dict[str, str] = field(default_factory=dict)  # id -> line, not ours
    # The last few applied candles: open time -> (EMAs before it, (high, low, close) applied).
    # A kline that arrives for one of them with other values revises it (`add_candle`): a
    # candle can be applied from its last in-progress update when another stream's timestamp
    # says the minute ended before its final kline arrived (ccxt does not expose Binance's
    # `x` / Bybit's `confirm`), and the final one must still win, as in the backtest.
    recent: dict[int, tuple[np.ndarray, tuple[float, float, float]]] = field(
        default_factory=dict)

    # -- EMAs ------------------------------------------------------------------------------
    def alphas(self, j: int) -> tuple[float, float]:
        p = self.params[j]
        return ema_alpha_nb(p[P_EMA_SPAN_0]), ema_alpha_nb(p[P_EMA_SPAN_1])

    def warm_up(self, candles: np.ndarray) -> None:
        """Seed both sides' EMAs from closed candles (n, >=5), oldest first."""
        closes = np.ascontiguousarray(candles[:, 4], dtype=np.float64)
        for j in range(2):
            p = self.params[j]
            self.emas[j] = emas_from_closes_nb(closes, p[P_EMA_SPAN_0], p[P_EMA_SPAN_1])
        self.last_closed_ts = int(candles[-1, 0])
        self.close_price = float(closes[-1])
        self.last_range = (float(candles[-1, 2]), float(candles[-1, 3]))
        self.set_last_price(float(closes[-1]), self.last_closed_ts + MINUTE_MS)
        self.pending = {t: c for t, c in self.pending.items() if t > self.last_closed_ts}
        self.recent = {}

    def _update_emas(self, close: float) -> None:
        for j in range(2):
            a0, a1 = self.alphas(j)
            self.emas[j, 0] = ema_update_nb(self.emas[j, 0], close, a0)
            self.emas[j, 1] = ema_update_nb(self.emas[j, 1], close, a1)

    def apply_close(self, close: float) -> None:
        self._update_emas(close)
        self.candles_applied += 1

    def note_time(self, ts: int | float | None) -> None:
        if ts:
            self.exchange_time = max(self.exchange_time, int(ts))

    def add_candle(self, ts: int, close: float, high: float | None = None,
                   low: float | None = None) -> bool:
        """Queue a candle for `apply_closed`; for one already applied with other values,
        revise the EMAs (rewind to before it, re-apply it and those after). Revised?"""
        row = (float(close if high is None else high), float(close if low is None else low),
               float(close))
        ts = int(ts)
        if ts > self.last_closed_ts:
            self.pending[ts] = row
            return False
        if ts not in self.recent or self.recent[ts][1] == row:
            return False
        self.emas = self.recent[ts][0].copy()
        for t in sorted(k for k in self.recent if k >= ts):
            before, applied = self.recent[t]
            applied = row if t == ts else applied
            self.recent[t] = (self.emas.copy(), applied)
            self._update_emas(applied[2])
        if ts == self.last_closed_ts:
            self.close_price, self.last_range = row[2], (row[0], row[1])
        return True

    def set_last_price(self, price: float, ts: int) -> bool:
        """Take `price` as the last trade if it is not older than what we have; changed?"""
        if ts < self.last_price_ts or price == self.last_price:
            self.last_price_ts = max(self.last_price_ts, ts)
            return False
        self.last_price, self.last_price_ts = float(price), int(ts)
        return True

    def apply_closed(self, fill_now: bool = False) -> tuple[int, int | None]:
        """Apply pending closed candles in order. (count applied, gap start or None).

        A gap (the next pending closed candle is not last_closed + 1 minute, or a minute
        closed and no candle for it arrived) returns the first missing open time so the caller
        fills it from REST and calls again. `fill_now` (after a reconnect, when stream
        messages may be lost) reports a closed minute without a candle at once.
        """
        n = 0
        while True:
            nxt = self.last_closed_ts + MINUTE_MS
            later_seen = any(t > nxt for t in self.pending)
            if nxt + MINUTE_MS + (0 if later_seen else self.close_grace_ms) > self.exchange_time:
                return n, None  # the next candle has not closed yet
            if nxt in self.pending:
                high, low, close = self.pending.pop(nxt)
                self.recent[nxt] = (self.emas.copy(), (high, low, close))
                for t in [k for k in self.recent if k <= nxt - RECENT_CANDLES * MINUTE_MS]:
                    del self.recent[t]
                self.apply_close(close)
                self.close_price, self.last_range = close, (high, low)
                # A close is the last trade as of the candle's end (if no ticker is newer).
                self.set_last_price(close, nxt + MINUTE_MS)
                self.last_closed_ts = nxt
                n += 1
                continue
            later = [t for t in self.pending if t > nxt and t + MINUTE_MS <= self.exchange_time]
            if later:
                return n, nxt
            # Closed by the clock but no candle received yet: the stream will deliver it,
            # unless it is already a minute late (then the caller fills it from REST).
            if fill_now or nxt + MINUTE_MS + self.close_grace_ms + self.late_ms \
                    <= self.exchange_time:
                return n, nxt
            return n, None

    # -- positions and orders ---------------------------------------------------------------
    def remember_order(self, order: OpenOrder) -> None:
        self.open_orders[order.id] = order
        if order.side is not None:
            self.note_side(order.id, order.side)

    def note_ideal_price(self, client_id: str, price: float) -> None:
        """Remember the calculator's price of an order placed at another price, bounded."""
        self.ideal_prices[client_id] = price
        if len(self.ideal_prices) > 4096:
            for k in list(self.ideal_prices)[:2048]:
                del self.ideal_prices[k]

    def note_side(self, order_id: str, side: int) -> None:
        """Remember an order's position side (executions may not carry it), bounded."""
        self.order_sides[order_id] = side
        if len(self.order_sides) > 4096:  # keep the most recent half
            for k in list(self.order_sides)[:2048]:
                del self.order_sides[k]

    def set_position(self, side: int, size: float, price: float) -> None:
        j = side_index(side)
        self.psize[j] = size
        self.pprice[j] = price if size > 0.0 else 0.0

    def counts(self) -> dict[str, int]:
        """Open entries / closes per side, for the status line."""
        c = {"long_entries": 0, "long_closes": 0, "short_entries": 0, "short_closes": 0}
        for o in self.open_orders.values():
            name = "long" if o.side == LONG else "short"
            c[f"{name}_{'closes' if o.close else 'entries'}"] += 1
        return c
