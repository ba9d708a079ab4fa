"""What one candle does to the account, for the engine: record rows (fill_dt), settle fills
with the initial-margin check, funding payments, the liquidation book, equity samples, and the
layout of the engine's equity and summary arrays.

Conventions as in `passivbot.backtest.engine`; `st` is the (2,) array of `records.side_dt`
records (long, short), `cnt` the engine's small int counters, `summary` its float array.
`settle_account_nb` is the one settlement loop of both replays: the multi-symbol one
(`multi_nb`) calls it per symbol, the one-symbol engine through `settle_nb` as an account of
one symbol (a (1, 2) view of its records), so both settle, refuse and count alike.
"""

import numpy as np
from numba import njit

from passivbot.backtest.book import side_of_nb
from passivbot.fills import (
    apply_fill_nb, fill_kind_nb, is_buy_nb, is_close_kind_nb, market_price_nb,
)
from passivbot.margin import (
    LIQ_ABOVE, LIQ_BELOW, available_margin_nb, entry_margin_ok_nb, funding_payment_nb,
    initial_margin_nb, is_liquidated_nb, liquidation_balance_nb,
)
from passivbot.numeric import wallet_exposure_nb
from passivbot.records import (
    B_KIND, B_PRICE, B_QTY, B_SIDE, BOOK_COLS, KIND_FUNDING, KIND_LIQUIDATION, KIND_STOP_CLOSE,
    LONG, fill_dt,
)

MINUTE_MS = 60_000

# Equity samples: the close of candle W (the last warm-up candle; 0 without warm-up), of every
# 60th candle after it, and of the last candle; before them, the warm-up's W // 60 flat samples
# (every 60th candle before W).
EQ_TS = 0  # the sampled candle's open time, ms
EQ_BALANCE = 1
EQ_EQUITY = 2  # balance + unrealized pnl of both sides at the close
EQ_PRICE = 3  # the close
EQ_PSIZE_LONG = 4
EQ_PPRICE_LONG = 5
EQ_PSIZE_SHORT = 6
EQ_PPRICE_SHORT = 7
EQ_LIQ_PRICE = 8  # 0 when there is no liquidation price
EQ_COLS = 9
EQUITY_EVERY = 60

# Summary array.
S_CLOSEST_LIQ = 0  # min over candles in a position of the distance to liquidation, fraction
S_MAX_WE_LONG = 1  # max wallet exposure after any fill, long
S_MAX_WE_SHORT = 2
S_LIQUIDATED = 3  # 1.0 if the run ended in a liquidation
S_LAST_INDEX = 4  # index of the last candle run
S_FUNDING_PAID = 5  # sum of funding payments paid (quote, >= 0)
S_FUNDING_RECEIVED = 6  # sum of funding payments received (quote, >= 0)
S_MARGIN_REFUSED = 7  # entry fills refused for insufficient margin (one per candle and order)
S_LIQ_MARGIN_LOST = 8  # margin lost at liquidation (negative: a gap's deficit, insurance fund's)
S_MAX_DRAWDOWN = 9  # max (peak close equity - candle's worst equity) / peak, fraction
S_GAP_INDEX = 10  # index of the first row not one minute after the previous (0: none)
S_WARMUP = 11  # candles used only to warm up the EMAs
S_FUNDING_EVENTS = 12  # funding events inside the traded candles (charged or flat)
S_STOPS = 13  # times the equity stop fired (passivbot.risk)
S_UNSTUCK_LOSS_LONG = 14  # realized loss of unstuck closes (fee - pnl, summed; quote)
S_UNSTUCK_LOSS_SHORT = 15
S_PEAK_BALANCE = 16  # the peak wallet balance the unstuck allowance was measured against
N_SUMMARY = 17

# Counters the kernel keeps in a small int array (fill rows, equity rows written).
CNT_FILLS = 0
CNT_EQUITY = 1


@njit(cache=True)
def _grow_nb(rows: np.ndarray) -> np.ndarray:
    """Twice the room; an explicit copy (slice assignment would compile numba's shape-error
    formatting, seconds of cold start)."""
    out = np.empty(rows.shape[0] * 2, dtype=fill_dt)
    for r in range(rows.shape[0]):
        out[r] = rows[r]
    return out


@njit(cache=True)
def record_nb(rows, cnt, i, ts, side, kind, qty, price, fee, pnl, psize, pprice, balance):
    """Append one fill_dt row; returns the (maybe grown) rows."""
    n = cnt[CNT_FILLS]
    if n == rows.shape[0]:
        rows = _grow_nb(rows)
    f = rows[n]
    f.minute = i
    f.timestamp = ts
    f.side = side
    f.kind = kind
    f.qty = qty
    f.price = price
    f.fee = fee
    f.pnl = pnl
    f.psize = psize
    f.pprice = pprice
    f.balance = balance
    cnt[CNT_FILLS] = n + 1
    return rows


@njit(cache=True)
def upnl_nb(st: np.ndarray, price: float) -> float:
    upnl = 0.0
    for j in range(2):
        if st[j].psize > 0.0:
            upnl += side_of_nb(j) * (price - st[j].pprice) * st[j].psize
    return upnl


@njit(cache=True)
def account_margin_nb(st: np.ndarray, lastp: np.ndarray, s_count: int) -> tuple:
    """(notional of all positions at their position prices, unrealized pnl of all at each
    symbol's last price) over `st` (S, 2) and `lastp` (S,)."""
    notional = 0.0
    upnl = 0.0
    for k in range(s_count):
        sk = st[k]
        notional += sk[0].psize * sk[0].pprice + sk[1].psize * sk[1].pprice
        upnl += upnl_nb(sk, lastp[k])
    return notional, upnl


@njit(cache=True)
def settle_account_nb(rows, cnt, ssum, asum, st, k, book, seq, fee_rate, balance, qty_step, i,
                      ts, leverage, lastp, s_count) -> tuple:
    """THE settlement loop, for one symbol of an account of `s_count` symbols (the one-symbol
    engine is the account of one): settle the rows `seq` of symbol k's `book` in that order
    through the shared fill function and record them: (rows, balance, whether anything
    filled). `st` (S, 2) side records, `ssum` (S, N_SUMMARY) per-symbol and `asum`
    (N_SUMMARY,) account summaries, `lastp` (S,) each symbol's last price.

    An entry the account's available margin cannot carry (every symbol's positions, unrealized
    pnl at its last price) is refused and counted on the symbol; `leverage` inf skips the
    check. The symbol's max wallet exposure and the account's (the sum over symbols) follow
    every fill."""
    filled = False
    stk = st[k]
    for r in seq:
        side = int(book[r, B_SIDE])
        j = 0 if side == LONG else 1
        price = book[r, B_PRICE]
        s = stk[j]
        kind = fill_kind_nb(int(book[r, B_KIND]), s.psize)
        if leverage < np.inf and not is_close_kind_nb(kind):
            notional, upnl = account_margin_nb(st, lastp, s_count)
            available = available_margin_nb(balance, upnl, initial_margin_nb(notional, leverage),
                                            0.0)
            if not entry_margin_ok_nb(available, book[r, B_QTY], price, leverage):
                ssum[k, S_MARGIN_REFUSED] += 1.0
                continue
        psize, pprice, balance, q, fee, pnl = apply_fill_nb(
            side, kind, book[r, B_QTY], price, fee_rate, s.psize, s.pprice, balance, qty_step,
        )
        if q <= 0.0:
            continue
        s.psize = psize
        s.pprice = pprice
        filled = True
        rows = record_nb(rows, cnt, i, ts, side, kind, q, price, fee, pnl, psize, pprice, balance)
        we = wallet_exposure_nb(balance, psize, pprice)
        ssum[k, S_MAX_WE_LONG + j] = max(ssum[k, S_MAX_WE_LONG + j], we)
        tot = 0.0
        for m in range(s_count):
            tot += wallet_exposure_nb(balance, st[m, j].psize, st[m, j].pprice)
        asum[S_MAX_WE_LONG + j] = max(asum[S_MAX_WE_LONG + j], tot)
    return rows, balance, filled


@njit(cache=True)
def settle_nb(rows, cnt, summary, st, book, seq, fee_rate, balance, qty_step, i, ts, leverage,
              last) -> tuple:
    """`settle_account_nb` for the one-symbol engine: `st` (2,) and `summary` are the account
    of one symbol (views, no copy), `last` its last price: (rows, balance, filled)."""
    lastp = np.empty(1)
    lastp[0] = last
    return settle_account_nb(rows, cnt, summary.reshape((1, summary.shape[0])), summary,
                             st.reshape((1, 2)), 0, book, seq, fee_rate, balance, qty_step, i,
                             ts, leverage, lastp, 1)


@njit(cache=True)
def fund_nb(rows, cnt, summary, st, balance, mark, rate, i, ts) -> tuple:
    """Settle one funding event on both positions at `mark`: (rows, balance)."""
    for j in range(2):
        s = st[j]
        if s.psize > 0.0:
            side = side_of_nb(j)
            pay = funding_payment_nb(side, s.psize, mark, rate)
            balance -= pay
            if pay > 0.0:
                summary[S_FUNDING_PAID] += pay
            else:
                summary[S_FUNDING_RECEIVED] -= pay
            rows = record_nb(rows, cnt, i, ts, side, KIND_FUNDING, s.psize, mark, 0.0, -pay,
                              s.psize, s.pprice, balance)
    return rows, balance


@njit(cache=True)
def trades_before_liquidation_nb(liq: float, direction: int, open_: float) -> bool:
    """False when the candle opens past the liquidation price: it liquidates at its open
    before any resting order can trade."""
    return direction == 0 or not is_liquidated_nb(liq, direction, open_, open_)


@njit(cache=True)
def liquidation_book_nb(st: np.ndarray, price: float, kind: int = KIND_LIQUIDATION) -> np.ndarray:
    """Both open positions as `kind` orders (a liquidation, or the equity stop's market close)
    at `price` (B_* columns), long first."""
    book = np.empty((2, BOOK_COLS))
    k = 0
    for j in range(2):
        if st[j].psize > 0.0:
            book[k, B_QTY] = st[j].psize
            book[k, B_PRICE] = price
            book[k, B_KIND] = kind
            book[k, B_SIDE] = side_of_nb(j)
            k += 1
    return book[:k]


@njit(cache=True)
def stop_close_book_nb(st: np.ndarray, open_price: float, market: np.ndarray) -> np.ndarray:
    """The equity stop's market close of both positions (`st` one symbol's (2,) records) at a
    candle opening at `open_price`: each side at `fills.market_price_nb` (one book width against
    the taker), as the emulator prices a market order there."""
    book = liquidation_book_nb(st, open_price, KIND_STOP_CLOSE)
    for r in range(book.shape[0]):
        book[r, B_PRICE] = market_price_nb(is_buy_nb(int(book[r, B_SIDE]), KIND_STOP_CLOSE),
                                           open_price, market)
    return book


@njit(cache=True)
def end_in_liquidation_nb(rows: np.ndarray, cnt: np.ndarray, summary: np.ndarray,
                          balance: float) -> float:
    """The end of a run in a liquidation, once its closes are settled (both replays): the
    margin left is lost (`margin.liquidation_balance_nb`: the balance never below 0), booked as
    a fee on the last close row, and the summary says so. Returns the balance after it."""
    balance, lost = liquidation_balance_nb(balance)
    last_row = rows[cnt[CNT_FILLS] - 1]
    last_row.fee += lost
    last_row.balance = balance
    summary[S_LIQ_MARGIN_LOST] = lost
    summary[S_CLOSEST_LIQ] = 0.0
    summary[S_LIQUIDATED] = 1.0
    summary[S_MAX_DRAWDOWN] = 1.0
    return balance


@njit(cache=True)
def liq_distance_nb(liq: float, direction: int, low: float, high: float) -> float:
    """Distance from this candle's extreme to the liquidation price, as a fraction (<= 1)."""
    if direction == LIQ_BELOW:
        d = (low - liq) / low
    elif direction == LIQ_ABOVE:
        d = (liq - high) / high
    else:
        return 1.0
    return min(1.0, max(0.0, d))


@njit(cache=True)
def sample_equity_nb(eq, cnt, candle, balance, st, liq) -> None:
    k = cnt[CNT_EQUITY]
    cnt[CNT_EQUITY] = k + 1
    close = candle[4]
    eq[k, EQ_TS] = candle[0]
    eq[k, EQ_BALANCE] = balance
    eq[k, EQ_EQUITY] = balance + upnl_nb(st, close)
    eq[k, EQ_PRICE] = close
    eq[k, EQ_PSIZE_LONG] = st[0].psize
    eq[k, EQ_PPRICE_LONG] = st[0].pprice
    eq[k, EQ_PSIZE_SHORT] = st[1].psize
    eq[k, EQ_PPRICE_SHORT] = st[1].pprice
    eq[k, EQ_LIQ_PRICE] = liq
