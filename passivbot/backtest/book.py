"""The engine's cache of resting orders: `grid.ideal_orders_nb` without recomputing it every candle.

Per side j (0 = long, 1 = short) the engine keeps one row of a float64 state matrix
`st` (2, N_STATE_COLS) (position, EMAs, what the cached grids were computed from) and the
cached orders in `ent` (2, MAX_ENTRY_ORDERS, ORDER_COLS) and `cls` (2, max closes, ORDER_COLS).

Why the cache is exact (same orders as ideal_orders_nb of the current state):
- flat side: its only order is the initial entry. Its price depends on the EMAs and the last
  price, so it is recomputed every candle with `grid.initial_entry_price_nb`; its qty depends
  on balance and price only, so it is sized (`initial_entry_qty_nb`) only when the price would
  fill, from the balance at the candle's open: the same (qty, price) ideal_orders gives.
- open side: the grids depend on balance, psize and pprice (constant until a fill on either
  side) and on the last price L only through the passive caps:
  * entries: `entry_grid_nb` caps only its first level by L; deeper levels follow from the
    first level's (qty, price). The first level's raw price `cap` (`_entry_cap_nb`, the same
    expressions as `reentry_nb`) is untouched by the cap while side * (L - cap) >= 0, so the
    grid is unchanged while that holds for L and for the L it was made at; cap = -side * inf
    when no re-entry is possible at any L. Otherwise `reentry_nb` at L is compared with the
    cached first level (exact), and the grid recomputed if they differ.
  * closes: every raw close price lies in [min(lo, hi), max(lo, hi)] of `close_grid_nb`; a
    long's cap max(raw, L) is a no-op while L <= min(lo, hi) (short: L >= max(lo, hi)), so
    the grid is unchanged while that holds for both L and the L it was made at.
"""

import numpy as np
from numba import njit

from passivbot.fills import fills_nb
from passivbot.grid import (
    close_grid_nb, close_range_nb, entry_grid_nb, ideal_orders_nb, initial_entry_price_nb,
    initial_entry_qty_nb, reentry_nb, reentry_raw_price_nb,
)
from passivbot.records import (
    BOOK_COLS, KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, ORDER_COLS, P_ENABLED,
    P_N_CLOSE_ORDERS, SHORT,
)

# Columns of the per-side state matrix.
C_PSIZE = 0
C_PPRICE = 1
C_EMA0 = 2
C_EMA1 = 3
C_ALPHA0 = 4
C_ALPHA1 = 5
C_L_ENT = 6  # last price the cached entry grid was computed at
C_L_CLS = 7  # last price the cached close grid was computed at
C_ENT_CAP = 8  # the entry grid is uncapped while side * (last - cap) >= 0
C_NEAR_ENT = 9  # nearest cached entry price (nan: none)
C_NEAR_CLS = 10  # nearest cached close price (nan: none)
C_INIT_PRICE = 11  # flat side: initial entry price (nan: no order)
C_INIT_QTY = 12  # flat side: its qty when known, -1 when sized lazily
C_N_ENT = 13
C_N_CLS = 14
C_CLS_LIMIT = 15  # the close grid is uncapped while side * (last - limit) <= 0
C_ENABLED = 16
N_STATE_COLS = 17


@njit(cache=True)
def side_of_nb(j: int) -> int:
    return LONG if j == 0 else SHORT


@njit(cache=True)
def close_buffer_len_nb(long_params: np.ndarray, short_params: np.ndarray) -> int:
    """Rows a close grid can have: n_close_orders (at least 1) of the larger side."""
    return max(1, int(long_params[P_N_CLOSE_ORDERS]), int(short_params[P_N_CLOSE_ORDERS]))


@njit(cache=True)
def _nearest_nb(orders: np.ndarray, n: int, is_buy: bool) -> float:
    """Price of the order nearest the market: the highest buy or the lowest sell."""
    if n == 0:
        return np.nan
    best = orders[0, 1]
    for k in range(1, n):
        p = orders[k, 1]
        if (is_buy and p > best) or (not is_buy and p < best):
            best = p
    return best


@njit(cache=True)
def _store_orders_nb(j: int, st: np.ndarray, buf: np.ndarray, orders: np.ndarray, last: float,
                     c_n: int, c_last: int, c_near: int, is_buy: bool) -> None:
    """Copy side j's orders into its cache buffer and note count, last price and nearest."""
    n = orders.shape[0]
    for k in range(n):
        for c in range(ORDER_COLS):
            buf[j, k, c] = orders[k, c]
    st[j, c_n] = n
    st[j, c_last] = last
    st[j, c_near] = _nearest_nb(buf[j], n, is_buy)


@njit(cache=True)
def _set_entries_nb(j: int, st: np.ndarray, ent: np.ndarray, orders: np.ndarray, last: float) -> None:
    _store_orders_nb(j, st, ent, orders, last, C_N_ENT, C_L_ENT, C_NEAR_ENT, side_of_nb(j) == LONG)


@njit(cache=True)
def _set_closes_nb(j: int, st: np.ndarray, cls: np.ndarray, orders: np.ndarray, last: float) -> None:
    _store_orders_nb(j, st, cls, orders, last, C_N_CLS, C_L_CLS, C_NEAR_CLS, side_of_nb(j) != LONG)


@njit(cache=True)
def _close_limit_nb(side: int, pprice: float, params: np.ndarray) -> float:
    """The nearest raw close price of grid.close_grid_nb: the last price caps no close while
    side * (last - limit) <= 0."""
    lo, hi = close_range_nb(side, pprice, params)
    if side == LONG:
        return min(lo, hi)
    return max(lo, hi)


@njit(cache=True)
def _refresh_closes_nb(j, st, cls, last, params, market) -> None:
    side = side_of_nb(j)
    psize, pprice = st[j, C_PSIZE], st[j, C_PPRICE]
    _set_closes_nb(j, st, cls, close_grid_nb(side, psize, pprice, last, params, market), last)
    st[j, C_CLS_LIMIT] = _close_limit_nb(side, pprice, params)


@njit(cache=True)
def cache_current_nb(side: int, l_ent: float, ent_cap: float, l_cls: float, cls_limit: float,
                     last: float) -> bool:
    """Fast, scalar-only proof that an open side's cached grids are still ideal at `last`
    (False means: ask refresh_side_nb, which may still find them current)."""
    if last != l_cls and not (side * (l_cls - cls_limit) <= 0.0 and side * (last - cls_limit) <= 0.0):
        return False
    return last == l_ent or (side * (l_ent - ent_cap) >= 0.0 and side * (last - ent_cap) >= 0.0)


@njit(cache=True)
def _entry_cap_nb(
    side: int, balance: float, psize: float, pprice: float, params: np.ndarray, market: np.ndarray
) -> float:
    """The raw first re-entry price (grid.reentry_raw_price_nb, the very function reentry_nb
    prices with): the last price caps it only when side * (last - cap) < 0."""
    return reentry_raw_price_nb(side, balance, psize, pprice, params, market)


@njit(cache=True)
def _refresh_entries_nb(j, st, ent, balance, last, params, market) -> None:
    side = side_of_nb(j)
    psize, pprice = st[j, C_PSIZE], st[j, C_PPRICE]
    _set_entries_nb(j, st, ent, entry_grid_nb(side, balance, psize, pprice, last, params, market), last)
    st[j, C_ENT_CAP] = _entry_cap_nb(side, balance, psize, pprice, params, market)


@njit(cache=True)
def _entries_valid_nb(j, st, ent, balance, last, params, market) -> bool:
    """Whether the cached entry grid equals entry_grid_nb at `last` (see module docstring)."""
    l0 = st[j, C_L_ENT]
    if last == l0:
        return True
    side = side_of_nb(j)
    cap = st[j, C_ENT_CAP]
    if side * (l0 - cap) >= 0.0 and side * (last - cap) >= 0.0:
        return True
    q, p = reentry_nb(side, balance, st[j, C_PSIZE], st[j, C_PPRICE], last, params, market)
    if st[j, C_N_ENT] == 0:
        return q <= 0.0
    return q == ent[j, 0, 0] and p == ent[j, 0, 1]


@njit(cache=True)
def refresh_side_nb(
    j: int,
    st: np.ndarray,
    ent: np.ndarray,
    cls: np.ndarray,
    balance: float,
    last: float,
    params: np.ndarray,
    market: np.ndarray,
    changed: bool,
    every_candle: bool,
) -> None:
    """Bring side j's cached orders to ideal_orders_nb of the current state.

    `changed`: a fill happened this candle (balance, and maybe the position, moved).
    `every_candle`: ignore the cache and call ideal_orders_nb (the reference mode).
    """
    side = side_of_nb(j)
    psize = st[j, C_PSIZE]
    ema_lo = min(st[j, C_EMA0], st[j, C_EMA1])
    ema_hi = max(st[j, C_EMA0], st[j, C_EMA1])
    if every_candle:
        entries, closes = ideal_orders_nb(
            side, balance, psize, st[j, C_PPRICE], ema_lo, ema_hi, last, params, market
        )
        st[j, C_INIT_PRICE] = np.nan
        if psize <= 0.0:
            _set_entries_nb(j, st, ent, entries[:0], last)
            if entries.shape[0] > 0:
                st[j, C_INIT_QTY] = entries[0, 0]
                st[j, C_INIT_PRICE] = entries[0, 1]
        else:
            _set_entries_nb(j, st, ent, entries, last)
        _set_closes_nb(j, st, cls, closes, last)
        return
    if psize <= 0.0:
        st[j, C_N_ENT] = 0
        st[j, C_N_CLS] = 0
        st[j, C_NEAR_ENT] = np.nan
        st[j, C_NEAR_CLS] = np.nan
        st[j, C_INIT_QTY] = -1.0
        if params[P_ENABLED] == 0.0:
            st[j, C_INIT_PRICE] = np.nan
        else:
            st[j, C_INIT_PRICE] = initial_entry_price_nb(side, ema_lo, ema_hi, last, params, market)
        return
    st[j, C_INIT_PRICE] = np.nan
    was_flat = st[j, C_N_CLS] == 0
    if changed or was_flat:
        _refresh_closes_nb(j, st, cls, last, params, market)
        if params[P_ENABLED] != 0.0:
            _refresh_entries_nb(j, st, ent, balance, last, params, market)
        else:
            st[j, C_N_ENT] = 0
            st[j, C_NEAR_ENT] = np.nan
        return
    l0, limit = st[j, C_L_CLS], st[j, C_CLS_LIMIT]
    if last != l0 and not (side * (l0 - limit) <= 0.0 and side * (last - limit) <= 0.0):
        _refresh_closes_nb(j, st, cls, last, params, market)
    if params[P_ENABLED] != 0.0 and not _entries_valid_nb(j, st, ent, balance, last, params, market):
        _refresh_entries_nb(j, st, ent, balance, last, params, market)


@njit(cache=True)
def precheck_nb(st: np.ndarray, low: float, high: float) -> bool:
    """Whether any resting order can fill in a candle: its nearest buy and sell per side only
    (`fills.fills_nb` on the nearest price decides for the whole group)."""
    for j in range(2):
        entry_buy = side_of_nb(j) == LONG
        if fills_nb(entry_buy, st[j, C_NEAR_ENT], low, high):
            return True
        if fills_nb(entry_buy, st[j, C_INIT_PRICE], low, high):
            return True
        if fills_nb(not entry_buy, st[j, C_NEAR_CLS], low, high):
            return True
    return False


@njit(cache=True)
def book_nb(
    st: np.ndarray,
    ent: np.ndarray,
    cls: np.ndarray,
    balance: float,
    long_params: np.ndarray,
    short_params: np.ndarray,
    market: np.ndarray,
) -> np.ndarray:
    """The resting orders of both sides as the fill rule takes them (B_* columns).

    A flat side's initial entry is sized here, from the balance at the candle's open."""
    n = 0
    for j in range(2):
        n += int(st[j, C_N_ENT]) + int(st[j, C_N_CLS]) + (0 if np.isnan(st[j, C_INIT_PRICE]) else 1)
    book = np.empty((n, BOOK_COLS))  # every cell is written below
    r = 0
    for j in range(2):
        side = side_of_nb(j)
        price = st[j, C_INIT_PRICE]
        if not np.isnan(price):
            qty = st[j, C_INIT_QTY]
            if qty < 0.0:
                params = long_params if j == 0 else short_params
                qty = initial_entry_qty_nb(balance, price, params, market)
            book[r, 0], book[r, 1], book[r, 2], book[r, 3] = qty, price, KIND_INITIAL_ENTRY, side
            r += 1
        for k in range(int(st[j, C_N_ENT])):
            book[r, 0], book[r, 1], book[r, 2], book[r, 3] = ent[j, k, 0], ent[j, k, 1], KIND_REENTRY, side
            r += 1
        for k in range(int(st[j, C_N_CLS])):
            book[r, 0], book[r, 1], book[r, 2], book[r, 3] = cls[j, k, 0], cls[j, k, 1], KIND_CLOSE, side
            r += 1
    return book
