"""The backtest engine: one `@njit` replay of 1-minute candles through the shared calculator.

Conventions (see `passivbot.records`): candles float64 (n, 6) = timestamp ms, open, high, low,
close, volume, one row a minute; prices in quote, sizes in base (magnitudes), sides LONG/SHORT.

Seed: both sides' EMAs and the last price = candles[0].close; the orders resting at candle 1's
open are ideal_orders of that state. Then for each candle i = 1 .. n-1:
 1. the book resting at candle i's open (both sides) is filled by `fills.fill_sequence_nb` and
    settled by `fills.apply_fill_nb` (maker fee), in settlement order;
 2. the hedged liquidation price (recomputed only after a fill) is checked against the candle's
    range; if reached, both positions close at it (taker fee; the price is clipped into the
    candle's range for the degenerate case of an account already under maintenance) and the
    run ends;
 3. the EMAs update on the close, last price = close;
 4. the orders resting at candle i+1's open are `grid.ideal_orders_nb` of the new state, cached
    by `passivbot.backtest.book` (identical to recomputing every candle, which
    `recompute_every_candle=True` does; a test compares both modes).

No allocation happens in a candle without fills unless the last price reaches a cached grid.
"""

import numpy as np
from numba import njit

from passivbot.backtest.book import (
    book_nb, cache_current_nb, close_buffer_len_nb, precheck_nb, refresh_side_nb, side_of_nb,
)
from passivbot.fills import apply_fill_nb, fill_sequence_nb
from passivbot.grid import MAX_ENTRY_ORDERS, ema_alpha_nb, ema_update_nb, initial_entry_price_nb
from passivbot.margin import (
    LIQ_ABOVE, LIQ_BELOW, hedged_liq_price_nb, is_liquidated_nb, liquidation_fill_price_nb,
)
from passivbot.numeric import wallet_exposure_nb
from passivbot.records import (
    B_KIND, B_PRICE, B_QTY, B_SIDE, BOOK_COLS, KIND_LIQUIDATION, LONG, M_QTY_STEP, ORDER_COLS,
    P_EMA_SPAN_0, P_EMA_SPAN_1, P_ENABLED, fill_dt, side_dt,
)

# Equity samples: the close of candle 0, of every 60th candle after it, and of the last candle.
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
N_SUMMARY = 5

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
def _settle_nb(rows, cnt, summary, st, book, seq, fee_rate, balance, qty_step, i, ts) -> tuple:
    """Settle the rows `seq` of `book` in that order through the shared fill function and
    record them: (rows, balance, whether anything filled). cnt[CNT_FILLS] counts the rows."""
    filled = False
    for r in seq:
        side = int(book[r, B_SIDE])
        kind = int(book[r, B_KIND])
        j = 0 if side == LONG else 1
        price = book[r, B_PRICE]
        s = st[j]
        psize, pprice, balance, q, fee, pnl = apply_fill_nb(
            side, kind, book[r, B_QTY], price, fee_rate, s.psize, s.pprice, balance, qty_step,
        )
        if q <= 0.0:
            continue
        s.psize = psize
        s.pprice = pprice
        filled = True
        n = cnt[CNT_FILLS]
        if n == rows.shape[0]:
            rows = _grow_nb(rows)
        f = rows[n]
        f.minute = i
        f.timestamp = ts
        f.side = side
        f.kind = kind
        f.qty = q
        f.price = price
        f.fee = fee
        f.pnl = pnl
        f.psize = psize
        f.pprice = pprice
        f.balance = balance
        cnt[CNT_FILLS] = n + 1
        we = wallet_exposure_nb(balance, psize, pprice)
        summary[S_MAX_WE_LONG + j] = max(summary[S_MAX_WE_LONG + j], we)
    return rows, balance, filled


@njit(cache=True)
def _liquidation_book_nb(st: np.ndarray, price: float) -> np.ndarray:
    """Both open positions as liquidation orders at `price` (B_* columns), long first."""
    book = np.empty((2, BOOK_COLS))
    k = 0
    for j in range(2):
        if st[j].psize > 0.0:
            book[k, B_QTY] = st[j].psize
            book[k, B_PRICE] = price
            book[k, B_KIND] = KIND_LIQUIDATION
            book[k, B_SIDE] = side_of_nb(j)
            k += 1
    return book[:k]


@njit(cache=True)
def _liq_distance_nb(liq: float, direction: int, low: float, high: float) -> float:
    """Distance from this candle's extreme to the liquidation price, as a fraction (<= 1)."""
    if direction == LIQ_BELOW:
        d = (low - liq) / low
    elif direction == LIQ_ABOVE:
        d = (liq - high) / high
    else:
        return 1.0
    return min(1.0, max(0.0, d))


@njit(cache=True)
def _sample_equity_nb(eq, cnt, candle, balance, st, liq) -> None:
    k = cnt[CNT_EQUITY]
    cnt[CNT_EQUITY] = k + 1
    close = candle[4]
    upnl = 0.0
    for j in range(2):
        if st[j].psize > 0.0:
            upnl += side_of_nb(j) * (close - st[j].pprice) * st[j].psize
    eq[k, EQ_TS] = candle[0]
    eq[k, EQ_BALANCE] = balance
    eq[k, EQ_EQUITY] = balance + upnl
    eq[k, EQ_PRICE] = close
    eq[k, EQ_PSIZE_LONG] = st[0].psize
    eq[k, EQ_PPRICE_LONG] = st[0].pprice
    eq[k, EQ_PSIZE_SHORT] = st[1].psize
    eq[k, EQ_PPRICE_SHORT] = st[1].pprice
    eq[k, EQ_LIQ_PRICE] = liq


@njit(cache=True)
def run_backtest_nb(
    candles: np.ndarray,
    long_params: np.ndarray,
    short_params: np.ndarray,
    market: np.ndarray,
    brackets: np.ndarray,
    starting_balance: float,
    maker_fee: float,
    taker_fee: float,
    mmr_add: float = 0.0,
    recompute_every_candle: bool = False,
) -> tuple:
    """(fills as fill_dt records, equity (h, EQ_COLS), summary (N_SUMMARY,))."""
    n = candles.shape[0]
    qty_step = market[M_QTY_STEP]
    # np.empty + explicit zeroing everywhere: np.zeros / np.arange would each add compile time
    st = np.empty(2, dtype=side_dt)
    for j in range(2):
        s = st[j]
        s.psize, s.pprice, s.l_ent, s.l_cls, s.ent_cap, s.cls_limit = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        s.near_ent, s.near_cls, s.init_price, s.init_qty = 0.0, 0.0, 0.0, 0.0
        s.n_ent, s.n_cls = 0, 0
    ent = np.empty((2, MAX_ENTRY_ORDERS, ORDER_COLS))
    cls = np.empty((2, close_buffer_len_nb(long_params, short_params), ORDER_COLS))
    rows = np.empty(256, dtype=fill_dt)
    eq = np.empty((n // EQUITY_EVERY + 2, EQ_COLS))
    cnt = np.empty(2, dtype=np.int64)
    cnt[CNT_FILLS] = 0
    cnt[CNT_EQUITY] = 0
    summary = np.empty(N_SUMMARY)
    for c in range(N_SUMMARY):
        summary[c] = 0.0
    summary[S_CLOSEST_LIQ] = 1.0
    balance = starting_balance
    liq, liq_dir = 0.0, 0
    if n == 0:
        return rows[:0], eq[:0], summary
    last = candles[0, 4]
    for j in range(2):
        params = long_params if j == 0 else short_params
        s = st[j]
        s.ema0 = last
        s.ema1 = last
        s.alpha0 = ema_alpha_nb(params[P_EMA_SPAN_0])
        s.alpha1 = ema_alpha_nb(params[P_EMA_SPAN_1])
        s.enabled = params[P_ENABLED]
    for j in range(2):
        refresh_side_nb(j, st, ent, cls, balance, last, long_params if j == 0 else short_params,
                        market, n > 0, recompute_every_candle)
    _sample_equity_nb(eq, cnt, candles[0], balance, st, 0.0)
    i_end = 0
    for i in range(1, n):
        i_end = i
        high = candles[i, 2]
        low = candles[i, 3]
        filled = False
        # 1. fills of the book resting at this candle's open
        if precheck_nb(st, low, high):
            book = book_nb(st, ent, cls, balance, long_params, short_params, market)
            seq = fill_sequence_nb(book, low, high)
            rows, balance, filled = _settle_nb(rows, cnt, summary, st, book, seq, maker_fee, balance,
                                               qty_step, i, candles[i, 0])
            if filled:
                liq, liq_dir = hedged_liq_price_nb(
                    balance, st[0].psize, st[0].pprice, st[1].psize, st[1].pprice, brackets, mmr_add,
                )
        # 2. liquidation: both positions close at the liquidation price, taker fee; the end
        if st[0].psize > 0.0 or st[1].psize > 0.0:
            if is_liquidated_nb(liq, liq_dir, low, high):
                book = _liquidation_book_nb(st, liquidation_fill_price_nb(liq, low, high))
                seq = np.empty(book.shape[0], dtype=np.int64)
                for r in range(book.shape[0]):
                    seq[r] = r
                rows, balance, filled = _settle_nb(rows, cnt, summary, st, book, seq, taker_fee,
                                                   balance, qty_step, i, candles[i, 0])
                summary[S_CLOSEST_LIQ] = 0.0
                summary[S_LIQUIDATED] = 1.0
                liq, liq_dir = 0.0, 0
                break
            dist = _liq_distance_nb(liq, liq_dir, low, high)
            if dist < summary[S_CLOSEST_LIQ]:
                summary[S_CLOSEST_LIQ] = dist
        # 3. EMAs and last price on the close
        last = candles[i, 4]
        for j in range(2):
            s = st[j]
            s.ema0 = ema_update_nb(s.ema0, last, s.alpha0)
            s.ema1 = ema_update_nb(s.ema1, last, s.alpha1)
        # 4. the orders resting at the next candle's open
        for j in range(2):
            side = 1 - 2 * j  # LONG, SHORT
            s = st[j]
            if filled or recompute_every_candle:
                stale = True
            elif s.psize > 0.0:
                stale = not cache_current_nb(side, s, last)
            else:
                # flat: the initial entry's price follows the EMAs every candle (sized lazily)
                stale = False
                if s.enabled != 0.0:
                    s.init_price = initial_entry_price_nb(
                        side, min(s.ema0, s.ema1), max(s.ema0, s.ema1), last,
                        long_params if j == 0 else short_params, market,
                    )
            if stale:
                refresh_side_nb(j, st, ent, cls, balance, last,
                                long_params if j == 0 else short_params, market, filled,
                                recompute_every_candle)
        if i % EQUITY_EVERY == 0 and i != n - 1:
            _sample_equity_nb(eq, cnt, candles[i], balance, st, liq)
    if i_end > 0:
        _sample_equity_nb(eq, cnt, candles[i_end], balance, st, liq)
    summary[S_LAST_INDEX] = i_end
    return rows[: cnt[CNT_FILLS]], eq[: cnt[CNT_EQUITY]], summary


def run_backtest(
    candles: np.ndarray,
    long_params: np.ndarray,
    short_params: np.ndarray,
    market: np.ndarray,
    brackets: np.ndarray,
    starting_balance: float,
    maker_fee: float,
    taker_fee: float,
    mmr_add: float = 0.0,
    recompute_every_candle: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fills as fill_dt records, equity (h, EQ_COLS), summary (N_SUMMARY,)) of one replay.

    Thin wrapper over `run_backtest_nb`: makes the arrays contiguous float64.
    """
    f64 = np.float64
    rows, equity, summary = run_backtest_nb(
        np.ascontiguousarray(candles, dtype=f64),
        np.ascontiguousarray(long_params, dtype=f64),
        np.ascontiguousarray(short_params, dtype=f64),
        np.ascontiguousarray(market, dtype=f64),
        np.ascontiguousarray(brackets, dtype=f64),
        float(starting_balance), float(maker_fee), float(taker_fee), float(mmr_add),
        bool(recompute_every_candle),
    )
    return rows, equity, summary
