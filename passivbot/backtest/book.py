"""The engine's cache of resting orders: `grid.ideal_orders_nb` without recomputing it every candle.

Per side j (0 = long, 1 = short) the engine keeps one `records.side_dt` record in `st` (shape
(2,): position, EMAs, what the cached grids were computed from) and the cached orders in `ent`
(2, MAX_ENTRY_ORDERS, ORDER_COLS) and `cls` (2, max closes, ORDER_COLS).

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
    close_cap_price_nb, close_grid_nb, close_range_nb, entry_cap_price_nb, entry_grid_nb,
    ideal_orders_nb, initial_entry_price_nb, initial_entry_qty_nb, reentry_nb, reentry_raw_price_nb,
)
from passivbot.records import (
    BOOK_COLS, KIND_INITIAL_ENTRY, KIND_REENTRY, LONG, ORDER_COLS, P_ENABLED,
    P_N_CLOSE_ORDERS, SHORT,
)


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
def _copy_orders_nb(j: int, buf: np.ndarray, orders: np.ndarray) -> int:
    n = orders.shape[0]
    for k in range(n):
        for c in range(ORDER_COLS):
            buf[j, k, c] = orders[k, c]
    return n


@njit(cache=True)
def _set_entries_nb(j: int, st: np.ndarray, ent: np.ndarray, orders: np.ndarray, last: float) -> None:
    s = st[j]
    s.ent_dirty = 0
    s.n_ent = _copy_orders_nb(j, ent, orders)
    s.l_ent = last
    s.near_ent = _nearest_nb(ent[j], s.n_ent, side_of_nb(j) == LONG)


@njit(cache=True)
def _set_closes_nb(j: int, st: np.ndarray, cls: np.ndarray, orders: np.ndarray, last: float) -> None:
    s = st[j]
    s.n_cls = _copy_orders_nb(j, cls, orders)
    s.l_cls = last
    s.near_cls = _nearest_nb(cls[j], s.n_cls, side_of_nb(j) != LONG)


@njit(cache=True)
def set_closes_nb(j: int, st: np.ndarray, cls: np.ndarray, orders: np.ndarray, last: float) -> None:
    """Replace side j's resting closes by `orders` (the engine's auto-unstuck closes, which
    follow the EMAs and so are set every candle while the side is above its threshold)."""
    _set_closes_nb(j, st, cls, orders, last)


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
    s = st[j]
    _set_closes_nb(j, st, cls, close_grid_nb(side, s.psize, s.pprice, last, params, market), last)
    s.cls_limit = _close_limit_nb(side, s.pprice, params)


@njit(cache=True)
def closes_current_nb(side: int, l_cls: float, cls_limit: float, last: float) -> bool:
    """Whether a close grid made at `l_cls` is still close_grid_nb at `last`: no cap applies at
    either price (see the module docstring)."""
    return last == l_cls or (side * (l_cls - cls_limit) <= 0.0 and side * (last - cls_limit) <= 0.0)


@njit(cache=True)
def entries_uncapped_nb(side: int, l_ent: float, ent_cap: float, last: float) -> bool:
    """Whether an entry grid made at `l_ent` is provably entry_grid_nb at `last` from the
    scalars alone: the first level is uncapped at both prices (False: ask _entries_valid_nb)."""
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
    s = st[j]
    _set_entries_nb(j, st, ent, entry_grid_nb(side, balance, s.psize, s.pprice, last, params, market),
                    last)
    s.ent_cap = _entry_cap_nb(side, balance, s.psize, s.pprice, params, market)


@njit(cache=True)
def _refresh_first_entry_nb(j, st, ent, balance, last, params, market) -> None:
    """Only the first re-entry level, after a balance change without a fill (funding): it is
    the nearest entry (what `precheck_nb` needs) and, with `ent_cap`, what tells whether the
    grid moved with the price; the deeper levels are made by book_nb when an order can fill
    (`ent_dirty`). A grid refresh per funding event cost ~20 % of a 3-year replay."""
    side = side_of_nb(j)
    s = st[j]
    q, p = reentry_nb(side, balance, s.psize, s.pprice, last, params, market)
    if q > 0.0:
        ent[j, 0, 0], ent[j, 0, 1], ent[j, 0, 2] = q, p, KIND_REENTRY
        s.n_ent = 1
        s.near_ent = p
    else:
        s.n_ent = 0
        s.near_ent = np.nan
    s.l_ent = last
    s.ent_cap = _entry_cap_nb(side, balance, s.psize, s.pprice, params, market)
    s.ent_dirty = 1


@njit(cache=True)
def _entries_valid_nb(j, st, ent, balance, last, params, market) -> bool:
    """Whether the cached entry grid equals entry_grid_nb at `last` (see module docstring)."""
    s = st[j]
    side = side_of_nb(j)
    if entries_uncapped_nb(side, s.l_ent, s.ent_cap, last):
        return True
    q, p = reentry_nb(side, balance, s.psize, s.pprice, last, params, market)
    if s.n_ent == 0:
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
    balance_moved: bool = False,
) -> None:
    """Bring side j's cached orders to ideal_orders_nb of the current state.

    `changed`: a fill happened this candle (balance, and maybe the position, moved).
    `every_candle`: ignore the cache and call ideal_orders_nb (the reference mode).
    `balance_moved`: only the balance moved (a funding payment): the entry grid is sized from
    the balance: its first level is recomputed now, the rest by book_nb when an order can fill
    (`_refresh_first_entry_nb`); the close grid depends on the position only.
    """
    side = side_of_nb(j)
    s = st[j]
    psize = s.psize
    ema_lo = min(s.ema0, s.ema1)
    ema_hi = max(s.ema0, s.ema1)
    # What caps entries and closes (grid.ideal_orders_nb): the last price moved by the market's
    # passive ticks; the cache below works in these prices (== last with 0 ticks).
    le = entry_cap_price_nb(last, side, market)
    lc = close_cap_price_nb(last, side, market)
    if every_candle:
        entries, closes = ideal_orders_nb(
            side, balance, psize, s.pprice, ema_lo, ema_hi, last, params, market
        )
        s.init_price = np.nan
        if psize <= 0.0:
            _set_entries_nb(j, st, ent, entries[:0], le)
            if entries.shape[0] > 0:
                s.init_qty = entries[0, 0]
                s.init_price = entries[0, 1]
        else:
            _set_entries_nb(j, st, ent, entries, le)
        _set_closes_nb(j, st, cls, closes, lc)
        return
    if psize <= 0.0:
        s.n_ent = 0
        s.n_cls = 0
        s.ent_dirty = 0
        s.near_ent = np.nan
        s.near_cls = np.nan
        s.init_qty = -1.0
        if params[P_ENABLED] == 0.0:
            s.init_price = np.nan
        else:
            s.init_price = initial_entry_price_nb(side, ema_lo, ema_hi, le, params, market)
        return
    s.init_price = np.nan
    was_flat = s.n_cls == 0
    if changed or was_flat:
        _refresh_closes_nb(j, st, cls, lc, params, market)
        if params[P_ENABLED] != 0.0:
            _refresh_entries_nb(j, st, ent, balance, le, params, market)
        else:
            s.n_ent = 0
            s.near_ent = np.nan
            s.ent_dirty = 0
        return
    if not closes_current_nb(side, s.l_cls, s.cls_limit, lc):
        _refresh_closes_nb(j, st, cls, lc, params, market)
    if params[P_ENABLED] != 0.0:
        if balance_moved or (s.ent_dirty != 0
                             and not _entries_valid_nb(j, st, ent, balance, le, params, market)):
            _refresh_first_entry_nb(j, st, ent, balance, le, params, market)
        elif not _entries_valid_nb(j, st, ent, balance, le, params, market):
            _refresh_entries_nb(j, st, ent, balance, le, params, market)


@njit(cache=True)
def precheck_nb(st: np.ndarray, low: float, high: float) -> bool:
    """Whether any resting order can fill in a candle: its nearest buy and sell per side only
    (`fills.fills_nb` on the nearest price decides for the whole group)."""
    for j in range(2):
        s = st[j]
        entry_buy = side_of_nb(j) == LONG
        if fills_nb(entry_buy, s.near_ent, low, high):
            return True
        if fills_nb(entry_buy, s.init_price, low, high):
            return True
        if fills_nb(not entry_buy, s.near_cls, low, high):
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
    last: float,
) -> np.ndarray:
    """The resting orders of both sides as the fill rule takes them (B_* columns).

    A flat side's initial entry is sized here, from the balance at the candle's open (made at
    `last`, the previous close); so is an open side's entry grid when only its first level was
    kept (`ent_dirty`): entry_grid_nb of that same state, the grid ideal_orders_nb gives."""
    for j in range(2):
        if st[j].ent_dirty != 0:
            _refresh_entries_nb(j, st, ent, balance, entry_cap_price_nb(last, side_of_nb(j), market),
                                long_params if j == 0 else short_params, market)
    n = 0
    for j in range(2):
        n += st[j].n_ent + st[j].n_cls + (0 if np.isnan(st[j].init_price) else 1)
    book = np.empty((n, BOOK_COLS))  # every cell is written below
    r = 0
    for j in range(2):
        s = st[j]
        side = side_of_nb(j)
        price = s.init_price
        if not np.isnan(price):
            qty = s.init_qty
            if qty < 0.0:
                params = long_params if j == 0 else short_params
                qty = initial_entry_qty_nb(balance, price, params, market)
            book[r, 0], book[r, 1], book[r, 2], book[r, 3] = qty, price, KIND_INITIAL_ENTRY, side
            r += 1
        for k in range(s.n_ent):
            book[r, 0], book[r, 1], book[r, 2], book[r, 3] = ent[j, k, 0], ent[j, k, 1], KIND_REENTRY, side
            r += 1
        for k in range(s.n_cls):
            # the kind from the cache: a take-profit, or risk's unstuck close
            book[r, 0], book[r, 1], book[r, 2], book[r, 3] = cls[j, k, 0], cls[j, k, 1], \
                cls[j, k, 2], side
            r += 1
    return book
