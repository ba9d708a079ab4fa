"""The fill rule: which resting orders a 1-minute candle fills, in what order, and what a fill
does to the account. The backtester and the exchange emulator both call these functions (never
copies of them), which is what makes a backtest and a live run over the same candles agree.

The rule (docs/design.md, "Candles, fills and time"):
- the orders that count in a candle are those resting at its open;
- a resting buy fills when the candle's low trades below its price, a sell when the high
  trades above it (strictly: touching is not trading through), at the order price, maker fee;
- closes settle before entries; then long before short; within a group the order nearest the
  open first (buys by descending price, sells by ascending price);
- orders created in reaction to a fill rest from the next candle (the caller's job: it only
  passes the book as it stood at the open);
- a market order (the equity stop's close) executes at the open of the candle in progress, one
  book width through it: `market_price_nb`, with the taker fee (the caller's fee rate).

Leaf module: imports only records and numeric.
"""

import numpy as np
from numba import njit

from passivbot.numeric import close_pnl_nb, new_position_nb, reduce_position_nb, round_nb
from passivbot.records import (
    B_KIND, B_PRICE, B_QTY, B_SIDE, KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_LIQUIDATION,
    KIND_REENTRY, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG, M_PASSIVE_TICKS, M_PRICE_STEP,
)


@njit(cache=True)
def is_close_kind_nb(kind: int) -> bool:
    return (kind == KIND_CLOSE or kind == KIND_LIQUIDATION or kind == KIND_UNSTUCK_CLOSE
            or kind == KIND_STOP_CLOSE)


@njit(cache=True)
def fill_kind_nb(kind: int, psize: float) -> int:
    """The kind a fill is recorded as: an entry into a flat side is an initial entry, any
    other entry a re-entry, by the position at the fill, not by the order's role when it was
    made. The exchange knows only the position, so the emulator names its fills this way, and
    the backtest must too: a re-entry that fills after the side's take-profit closed it in the
    same candle is an initial entry in both (fills.csv and parity compare kinds)."""
    if kind == KIND_INITIAL_ENTRY or kind == KIND_REENTRY:
        return KIND_REENTRY if psize > 0.0 else KIND_INITIAL_ENTRY
    return kind


@njit(cache=True)
def is_buy_nb(side: int, kind: int) -> bool:
    """Long entries and short closes buy; long closes and short entries sell."""
    return (side == LONG) != is_close_kind_nb(kind)


@njit(cache=True)
def fills_nb(is_buy: bool, price: float, low: float, high: float) -> bool:
    """Whether a resting limit order at `price` fills in a candle with this low and high."""
    if is_buy:
        return low < price
    return high > price


@njit(cache=True)
def passive_ticks_nb(market: np.ndarray) -> float:
    """market[M_PASSIVE_TICKS]: the book's width in price steps around the last trade, which
    both the calculator's caps (grid) and a market order's price use; 0 for a market array of
    the older length 4 (no column)."""
    return market[M_PASSIVE_TICKS] if market.shape[0] > M_PASSIVE_TICKS else 0.0


@njit(cache=True)
def market_price_nb(is_buy: bool, open_price: float, market: np.ndarray) -> float:
    """The price a market order pays when it executes at a candle's open: the open moved
    market[M_PASSIVE_TICKS] price steps against the taker (a buy up, a sell down), on the step.

    Why: the venues' book is one step wide (M_PASSIVE_TICKS = 1, the rule that keeps resting
    orders off the touch), so the open is the last trade and a taker crosses to the far side
    of the book: at worst one step through it, which is what the backtest charges (never the
    open itself, which only the side of the book that traded there would get). A market array
    of the older length 4 (0 ticks: no spread) pays the open exactly. The backtester prices the
    equity stop's close with this, the emulator every market order that arrives at a candle's
    open (minute mode: always), so a backtest and a live run pay the same.
    """
    ticks = passive_ticks_nb(market)
    if ticks <= 0.0:
        return open_price
    step = market[M_PRICE_STEP]
    return round_nb(open_price + (ticks * step if is_buy else -ticks * step), step)


@njit(cache=True)
def fill_sequence_nb(book: np.ndarray, low: float, high: float) -> np.ndarray:
    """Indices of the rows of `book` (resting at the candle's open) that fill, in settlement order.

    book: float64 (n, BOOK_COLS) with qty, price, kind, side.
    """
    n = book.shape[0]
    hit = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        side = int(book[i, B_SIDE])
        kind = int(book[i, B_KIND])
        if book[i, B_QTY] > 0.0 and fills_nb(is_buy_nb(side, kind), book[i, B_PRICE], low, high):
            hit[k] = i
            k += 1
    hit = hit[:k]
    if k <= 1:
        return hit
    major = np.empty(k, dtype=np.int64)
    minor = np.empty(k, dtype=np.float64)
    for j in range(k):
        i = hit[j]
        side = int(book[i, B_SIDE])
        kind = int(book[i, B_KIND])
        group = 0 if is_close_kind_nb(kind) else 2
        major[j] = group + (0 if side == LONG else 1)
        price = book[i, B_PRICE]
        minor[j] = -price if is_buy_nb(side, kind) else price
    # Stable insertion sort by (major, minor): the same order as a stable sort by minor then a
    # stable sort by major, for the handful of orders a candle fills, without compiling numba's
    # mergesort (seconds of cold start for every process that uses the fill rule).
    for a in range(1, k):
        h, ma, mi = hit[a], major[a], minor[a]
        b = a - 1
        while b >= 0 and (major[b] > ma or (major[b] == ma and minor[b] > mi)):
            hit[b + 1], major[b + 1], minor[b + 1] = hit[b], major[b], minor[b]
            b -= 1
        hit[b + 1], major[b + 1], minor[b + 1] = h, ma, mi
    return hit


@njit(cache=True)
def apply_fill_nb(
    side: int,
    kind: int,
    qty: float,
    price: float,
    fee_rate: float,
    psize: float,
    pprice: float,
    balance: float,
    qty_step: float,
) -> tuple:
    """Settle one fill: (psize, pprice, balance, qty_filled, fee, pnl) after it.

    A close (or liquidation) never takes more than the position (reduce-only); its pnl is
    realized against the position price. Fees are paid from the wallet balance on every fill.
    """
    if is_close_kind_nb(kind):
        q = min(qty, psize)
        pnl = close_pnl_nb(side, pprice, price, q)
        new_size, new_price = reduce_position_nb(psize, pprice, q, qty_step)
    else:
        q = qty
        pnl = 0.0
        new_size, new_price = new_position_nb(psize, pprice, q, price, qty_step)
    fee = abs(q * price) * fee_rate
    return new_size, new_price, balance + pnl - fee, q, fee, pnl
