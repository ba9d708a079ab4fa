"""What one minute does to the multi-symbol account, for `multi_nb.run_multi_nb`: equity
samples, the precheck and worst-price helpers, and the layout of the equity arrays. Fills
settle through `account.settle_account_nb`, the one settlement loop the one-symbol engine
calls too (its account is one symbol).

`st` is the (S, 2) array of `records.side_dt` records (symbol, long/short); conventions as in
`passivbot.backtest.multi_nb`.
"""

import numpy as np
from numba import njit

from passivbot.backtest.account import (
    CNT_EQUITY, CNT_FILLS, account_margin_nb, settle_account_nb, upnl_nb,
)
from passivbot.fills import fills_nb
from passivbot.margin import worst_extreme_nb

# Account equity samples (same instants as the one-symbol engine's, on the minute axis).
AE_TS, AE_BALANCE, AE_EQUITY, AE_LIQ_PRICE = 0, 1, 2, 3
AE_COLS = 4
# Per-symbol samples (h, S, SE_COLS): the close (or last close), both positions.
SE_PRICE, SE_PSIZE_LONG, SE_PPRICE_LONG, SE_PSIZE_SHORT, SE_PPRICE_SHORT = 0, 1, 2, 3, 4
SE_COLS = 5


@njit(cache=True)
def grow_int_nb(a: np.ndarray, n: int) -> np.ndarray:
    if n <= a.shape[0]:
        return a
    out = np.empty(max(n, 2 * a.shape[0]), dtype=np.int64)
    for r in range(a.shape[0]):
        out[r] = a[r]
    return out


@njit(cache=True)
def settle_all_nb(rows, rsym, cnt, ssum, asum, st, k, book, fee_rate, balance, qty_step, i, ts,
                  lastp, s_count) -> tuple:
    """Settle every row of symbol k's `book` in order, no margin check (a liquidation, the
    equity stop's market close), and tag the rows with k: (rows, rsym, balance, filled)."""
    n0 = cnt[CNT_FILLS]
    seq = np.empty(book.shape[0], dtype=np.int64)
    for r in range(book.shape[0]):
        seq[r] = r
    rows, balance, filled = settle_account_nb(rows, cnt, ssum, asum, st, k, book, seq, fee_rate,
                                              balance, qty_step, i, ts, np.inf, lastp, s_count)
    rsym = grow_int_nb(rsym, cnt[CNT_FILLS])
    for r in range(n0, cnt[CNT_FILLS]):
        rsym[r] = k
    return rows, rsym, balance, filled


@njit(cache=True)
def cancel_orders_nb(st, k: int, closes_too: bool) -> None:
    """No entry of symbol k rests at the next open (the equity stop's cool-down); nor any close
    when the stop's market close replaces them."""
    for j in range(2):
        s = st[k, j]
        s.n_ent = 0
        s.near_ent = np.nan
        s.init_price = np.nan
        if closes_too:
            s.n_cls = 0
            s.near_cls = np.nan


@njit(cache=True)
def symbol_precheck_nb(st, k: int, low: float, high: float) -> bool:
    """book.precheck_nb of symbol k, on the records themselves (no array view per minute)."""
    for j in range(2):
        s = st[k, j]
        entry_buy = j == 0
        if fills_nb(entry_buy, s.near_ent, low, high):
            return True
        if fills_nb(entry_buy, s.init_price, low, high):
            return True
        if fills_nb(not entry_buy, s.near_cls, low, high):
            return True
    return False


@njit(cache=True)
def sample_nb(eq, seq_, cnt, t, ts, balance, st, closes, liq, s_count):
    k = cnt[CNT_EQUITY]
    cnt[CNT_EQUITY] = k + 1
    upnl = 0.0
    for m in range(s_count):
        upnl += upnl_nb(st[m], closes[m])
        seq_[k, m, SE_PRICE] = closes[m]
        seq_[k, m, SE_PSIZE_LONG] = st[m, 0].psize
        seq_[k, m, SE_PPRICE_LONG] = st[m, 0].pprice
        seq_[k, m, SE_PSIZE_SHORT] = st[m, 1].psize
        seq_[k, m, SE_PPRICE_SHORT] = st[m, 1].pprice
    eq[k, AE_TS] = ts
    eq[k, AE_BALANCE] = balance
    eq[k, AE_EQUITY] = balance + upnl
    eq[k, AE_LIQ_PRICE] = liq


@njit(cache=True)
def worst_nb(st, k: int, low: float, high: float) -> tuple:
    """(upnl, price) of symbol k's two positions at its candle's worse extreme for the net
    (`margin.worst_extreme_nb`, the emulator's rule too)."""
    return worst_extreme_nb(st[k, 0].psize, st[k, 0].pprice, st[k, 1].psize, st[k, 1].pprice,
                            low, high)
