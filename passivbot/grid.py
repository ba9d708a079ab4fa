"""The grid calculator: every order the bot places, live or in a backtest, is decided here.

Only `@njit(cache=True)` pure functions over floats and numpy arrays; no IO, no config objects,
no globals (conventions in `passivbot.records`). One code path serves both sides: `side` is
LONG (+1) or SHORT (-1), position sizes are magnitudes, and every price rule is written once
with the side's sign (long enters below the price and closes above it; short mirrors).

Arguments that recur:
- `params`: float64[N_PARAMS], one side's strategy (P_* indices), from config.side_params();
- `market`: float64[N_MARKET], price step, qty step, min qty, min cost, passive ticks, re-pricing
  tolerance (M_* indices; `ideal_orders_nb` caps entries and closes `passive_ticks` steps off
  the last price; `initial_entry_price_nb` quantizes the flat side's entry by the tolerance);
- `balance`: wallet balance, quote; `psize`/`pprice`: the side's position size and price;
- `ema_lo`/`ema_hi`: the EMA band (min and max of the side's two EMAs);
- `last_price`: the last traded price (in a backtest: the previous candle's close).

Returned orders are float64 (n, ORDER_COLS) arrays: qty (> 0), price, kind (KIND_*), ordered
nearest to the market first.
"""

import numpy as np
from numba import njit

from passivbot.margin import bracket_nb, hedged_liq_price_nb, liq_price_nb  # noqa: F401 (re-export)
from passivbot.fills import passive_ticks_nb
from passivbot.numeric import (  # noqa: F401 (re-export: the grid's rounding is numeric's)
    min_entry_qty_nb,
    new_position_nb,
    round_dn_nb,
    round_nb,
    round_up_nb,
    wallet_exposure_nb,
)
from passivbot.records import (
    KIND_CLOSE,
    KIND_INITIAL_ENTRY,
    KIND_REENTRY,
    LONG,
    M_MIN_COST,
    M_MIN_QTY,
    M_PRICE_STEP,
    M_REPRICE_TOL,
    M_QTY_STEP,
    ORDER_COLS,
    P_DDOWN_FACTOR,
    P_EMA_SPAN_0,
    P_EMA_SPAN_1,
    P_ENABLED,
    P_INITIAL_EPRICE_EMA_DIST,
    P_INITIAL_QTY_PCT,
    P_MARKUP_RANGE,
    P_MIN_MARKUP,
    P_N_CLOSE_ORDERS,
    P_RENTRY_PPRICE_DIST,
    P_RENTRY_PPRICE_DIST_WE_WEIGHTING,
    P_WALLET_EXPOSURE_LIMIT,
)

# At most this many entry orders rest at once (the grid usually reaches the exposure limit
# long before; the cap bounds work and open orders when ddown_factor is tiny).
MAX_ENTRY_ORDERS = 24
# Exposure counted as "at the limit" within this relative tolerance.
EXPOSURE_TOL = 1e-9


# ---------------------------------------------------------------------------------------------
# Side-aware rounding: entries round away from the market, closes round further into profit.


@njit(cache=True)
def round_entry_price_nb(price: float, price_step: float, side: int) -> float:
    """Long entries round down (buy no higher), short entries round up (sell no lower)."""
    if side == LONG:
        return round_dn_nb(price, price_step)
    return round_up_nb(price, price_step)


@njit(cache=True)
def round_close_price_nb(price: float, price_step: float, side: int) -> float:
    """Long closes round up, short closes round down: a rounded close never loses markup.
    (A close trades the opposite way to its side's entries.)"""
    return round_entry_price_nb(price, price_step, -side)


@njit(cache=True)
def passive_entry_price_nb(price: float, last_price: float, side: int) -> float:
    """An entry never crosses the market (it must rest as a maker): long at most the last price."""
    if side == LONG:
        return min(price, last_price)
    return max(price, last_price)


@njit(cache=True)
def passive_close_price_nb(price: float, last_price: float, side: int) -> float:
    """A close never crosses the market: long sells at least at the last price."""
    return passive_entry_price_nb(price, last_price, -side)


@njit(cache=True)
def reprice_tol_nb(market: np.ndarray) -> float:
    """market[M_REPRICE_TOL], 0 for a market array of an older length (no column)."""
    return market[M_REPRICE_TOL] if market.shape[0] > M_REPRICE_TOL else 0.0


@njit(cache=True)
def quantize_passive_nb(price: float, tol: float, side: int) -> float:
    """`price` moved onto the geometric grid (1 + tol)^k, toward the passive side: long down to
    the grid point at or below it, short up to the one at or above it. The result is never more
    aggressive than `price` and within `tol` of it (long: price / (1 + tol) <= q <= price).

    Why: a flat side's initial entry is keyed on the EMAs, which drift every minute, so the
    order would be cancelled and re-created nearly every minute (two requests, and the queue
    place lost). On the grid it moves only when the band crosses a bucket. Stateless (the same
    inputs give the same price), so the backtest and the live bot agree without sharing state.
    tol <= 0 or a price <= 0: `price` unchanged.
    """
    if tol <= 0.0 or price <= 0.0 or not np.isfinite(price):
        return price
    step = np.log1p(tol)
    # A price on a grid point (log round-off puts it a hair either side) keeps its own bucket:
    # the 1e-9 bucket slack, toward the aggressive side, is taken back below if it overshoots.
    k = np.log(price) / step + side * 1e-9
    k = np.floor(k) if side == LONG else np.ceil(k)
    q = np.exp(k * step)
    # Never more aggressive than `price`: step back to the passive side (bounded: one step
    # always suffices, a second is a guard).
    for _ in range(2):
        if side * (q - price) > 0.0:
            k -= side
            q = np.exp(k * step)
        else:
            break
    return q


@njit(cache=True)
def entry_cap_price_nb(last_price: float, side: int, market: np.ndarray) -> float:
    """The price entries are capped at: the last price moved `passive_ticks` steps inside (long
    below, short above). With a one-tick book around the last trade, an entry at the last price
    is at the touch on one side and crosses whenever the opposite best equals the last price
    (PostOnly refused); one step inside it always rests. 0 ticks: the last price itself."""
    return last_price - side * passive_ticks_nb(market) * market[M_PRICE_STEP]


@njit(cache=True)
def close_cap_price_nb(last_price: float, side: int, market: np.ndarray) -> float:
    """The price closes are capped at: the last price moved `passive_ticks` steps outside (long
    above, short below): a reduce-only close at the last price would take liquidity whenever
    the best bid (long) equals it, filling at once as a taker, not at the candle the fill rule
    says."""
    return last_price + side * passive_ticks_nb(market) * market[M_PRICE_STEP]


# ---------------------------------------------------------------------------------------------
# EMAs


@njit(cache=True)
def ema_alpha_nb(span: float) -> float:
    return 2.0 / (span + 1.0)


@njit(cache=True)
def ema_update_nb(ema: float, close: float, alpha: float) -> float:
    """One EMA step on a closed candle's close."""
    return ema + alpha * (close - ema)


@njit(cache=True)
def ema_band_nb(ema0: float, ema1: float) -> tuple:
    """(lower, upper) of the band the initial entry keys on."""
    return min(ema0, ema1), max(ema0, ema1)


@njit(cache=True)
def emas_from_closes_nb(closes: np.ndarray, span0: float, span1: float) -> tuple:
    """Both EMAs after every close in `closes`, seeded with the first close.

    The backtester seeds on the first candle and updates on every close; the live bot warms up
    the same way from recent candles, so both hold the same EMAs over the same history.
    """
    a0 = ema_alpha_nb(span0)
    a1 = ema_alpha_nb(span1)
    e0 = closes[0]
    e1 = closes[0]
    for i in range(1, closes.shape[0]):
        e0 = ema_update_nb(e0, closes[i], a0)
        e1 = ema_update_nb(e1, closes[i], a1)
    return e0, e1


# ---------------------------------------------------------------------------------------------
# Entries


@njit(cache=True)
def initial_entry_price_nb(
    side: int, ema_lo: float, ema_hi: float, last_price: float, params: np.ndarray, market: np.ndarray
) -> float:
    """Long enters at the lower band x (1 - dist), short at the upper band x (1 + dist),
    quantized by the market's re-pricing tolerance (quantize_passive_nb: the price changes only
    when the band crosses a bucket), never across the last price. Split from the qty so a
    replay can test the price every candle and size the order only when it fills."""
    band = ema_lo if side == LONG else ema_hi
    raw = quantize_passive_nb(band * (1.0 - side * params[P_INITIAL_EPRICE_EMA_DIST]),
                              reprice_tol_nb(market), side)
    return round_entry_price_nb(passive_entry_price_nb(raw, last_price, side), market[M_PRICE_STEP], side)


@njit(cache=True)
def initial_entry_qty_nb(balance: float, price: float, params: np.ndarray, market: np.ndarray) -> float:
    """Cost balance x wallet_exposure_limit x initial_qty_pct, raised to the exchange minimum; 0
    if even the minimum would break the exposure limit by more than one qty step (a tiny account
    must not be forced over its risk budget)."""
    if price <= 0.0 or balance <= 0.0:
        return 0.0
    qty_step = market[M_QTY_STEP]
    wel = params[P_WALLET_EXPOSURE_LIMIT]
    min_qty = min_entry_qty_nb(price, qty_step, market[M_MIN_QTY], market[M_MIN_COST])
    qty = max(min_qty, round_nb(balance * wel * params[P_INITIAL_QTY_PCT] / price, qty_step))
    if qty * price > balance * wel + qty_step * price:
        return 0.0
    return qty


@njit(cache=True)
def initial_entry_nb(
    side: int,
    balance: float,
    ema_lo: float,
    ema_hi: float,
    last_price: float,
    params: np.ndarray,
    market: np.ndarray,
) -> tuple:
    """(qty, price) of the first entry from flat; (0, 0) when it cannot be placed."""
    price = initial_entry_price_nb(side, ema_lo, ema_hi, last_price, params, market)
    qty = initial_entry_qty_nb(balance, price, params, market)
    if qty <= 0.0:
        return 0.0, 0.0
    return qty, price


@njit(cache=True)
def reentry_raw_price_nb(
    side: int, balance: float, psize: float, pprice: float, params: np.ndarray, market: np.ndarray
) -> float:
    """The next re-entry's price before the market cap and rounding; -side x inf when no
    re-entry is possible at any market price (no balance, exposure at the limit, or less room
    under the limit than the exchange's min cost).

    Spacing from the position price is rentry_pprice_dist x (1 + exposure/limit x weighting),
    so the grid widens as the risk budget is used. Public so a replay can tell, from the last
    price alone, whether a cached grid is still ideal (the cap binds only beyond this price).
    """
    wel = params[P_WALLET_EXPOSURE_LIMIT]
    if balance <= 0.0 or psize <= 0.0 or wel <= 0.0:
        return -side * np.inf
    exposure = psize * pprice / balance
    if exposure >= wel * (1.0 - EXPOSURE_TOL):
        return -side * np.inf
    # Any order costs >= min cost, so less room than that means no entry (1e-4: qty rounding).
    if wel * balance - psize * pprice < market[M_MIN_COST] * (1.0 - 1e-4):
        return -side * np.inf
    spacing = params[P_RENTRY_PPRICE_DIST] * (
        1.0 + exposure / wel * params[P_RENTRY_PPRICE_DIST_WE_WEIGHTING]
    )
    return pprice * (1.0 - side * spacing)


@njit(cache=True)
def reentry_nb(
    side: int,
    balance: float,
    psize: float,
    pprice: float,
    last_price: float,
    params: np.ndarray,
    market: np.ndarray,
) -> tuple:
    """(qty, price) of the next re-entry (DCA) of an open position; (0, 0) when none.

    Price from reentry_raw_price_nb, never across the last price; qty = position size x
    ddown_factor. The entry that would pass the exposure limit is cut to fit it exactly
    (rounded down), and dropped if the cut is below the exchange minimum.
    """
    raw = reentry_raw_price_nb(side, balance, psize, pprice, params, market)
    if np.isinf(raw):
        return 0.0, 0.0
    price_step = market[M_PRICE_STEP]
    qty_step = market[M_QTY_STEP]
    price = round_entry_price_nb(passive_entry_price_nb(raw, last_price, side), price_step, side)
    if price <= 0.0:
        return 0.0, 0.0
    min_qty = min_entry_qty_nb(price, qty_step, market[M_MIN_QTY], market[M_MIN_COST])
    qty = max(min_qty, round_nb(psize * params[P_DDOWN_FACTOR], qty_step))
    room = params[P_WALLET_EXPOSURE_LIMIT] * balance - psize * pprice
    if qty * price > room:
        qty = round_dn_nb(room / price, qty_step)
        if qty < min_qty:
            return 0.0, 0.0
    return qty, price


@njit(cache=True)
def entry_grid_nb(
    side: int,
    balance: float,
    psize: float,
    pprice: float,
    last_price: float,
    params: np.ndarray,
    market: np.ndarray,
) -> np.ndarray:
    """All re-entries of an open position, nearest first, each computed as if the previous ones
    had filled at their prices; stops at the exposure limit or MAX_ENTRY_ORDERS."""
    out = np.empty((MAX_ENTRY_ORDERS, ORDER_COLS))
    qty_step = market[M_QTY_STEP]
    n = 0
    size = psize
    price_now = pprice
    # The first re-entry is capped by the market; each deeper one by the level before it, one
    # price step further away, so levels are distinct even when rounding would merge them.
    cap = last_price
    while n < MAX_ENTRY_ORDERS:
        qty, price = reentry_nb(side, balance, size, price_now, cap, params, market)
        if qty <= 0.0:
            break
        out[n, 0] = qty
        out[n, 1] = price
        out[n, 2] = KIND_REENTRY
        n += 1
        size, price_now = new_position_nb(size, price_now, qty, price, qty_step)
        cap = price - side * market[M_PRICE_STEP]
    return out[:n].copy()


# ---------------------------------------------------------------------------------------------
# Take-profit grid


@njit(cache=True)
def close_range_nb(side: int, pprice: float, params: np.ndarray) -> tuple:
    """(nearest, farthest) raw take-profit prices: pprice x (1 + min_markup) to pprice x
    (1 + min_markup + markup_range), short mirrored. The last price caps no close while it is
    on the near side of `nearest` (a replay uses this to keep a cached close grid)."""
    lo = pprice * (1.0 + side * params[P_MIN_MARKUP])
    hi = pprice * (1.0 + side * (params[P_MIN_MARKUP] + params[P_MARKUP_RANGE]))
    return lo, hi


@njit(cache=True)
def close_grid_nb(
    side: int,
    psize: float,
    pprice: float,
    last_price: float,
    params: np.ndarray,
    market: np.ndarray,
) -> np.ndarray:
    """Reduce-only take-profit orders, nearest first, quantities summing exactly to psize.

    Prices are spread evenly from pprice x (1 + min_markup) to pprice x (1 + min_markup +
    markup_range) (short mirrored), rounded into profit and never across the last price.
    Fewer than n_close_orders are used when the position is too small for every order to
    meet the exchange minimum; orders that round to the same price are merged. A position
    below the minimum gets one order for all of it (the only way out).
    """
    if psize <= 0.0:
        return np.empty((0, ORDER_COLS))
    price_step = market[M_PRICE_STEP]
    qty_step = market[M_QTY_STEP]
    n_req = max(1, int(params[P_N_CLOSE_ORDERS]))
    lo, hi = close_range_nb(side, pprice, params)
    # The cheapest price in the range sets the largest minimum qty.
    cheapest = passive_close_price_nb(min(lo, hi), last_price, side)
    cheapest = round_close_price_nb(cheapest, price_step, side)
    total = int(np.round(psize / qty_step))
    min_steps = int(
        np.round(min_entry_qty_nb(cheapest, qty_step, market[M_MIN_QTY], market[M_MIN_COST]) / qty_step)
    )
    n = min(n_req, total // max(1, min_steps))
    if n < 1:
        n = 1
    out = np.empty((n, ORDER_COLS))
    base = total // n
    extra = total - base * n
    m = 0
    for i in range(n):
        frac = i / (n - 1) if n > 1 else 0.0
        raw = lo + (hi - lo) * frac
        price = round_close_price_nb(passive_close_price_nb(raw, last_price, side), price_step, side)
        steps = base + (1 if i < extra else 0)
        if m > 0 and out[m - 1, 1] == price:
            out[m - 1, 0] += steps
        else:
            out[m, 0] = steps
            out[m, 1] = price
            out[m, 2] = KIND_CLOSE
            m += 1
    out = out[:m].copy()
    for i in range(m):
        out[i, 0] = round_nb(out[i, 0] * qty_step, qty_step)
    return out


# ---------------------------------------------------------------------------------------------
# Ideal orders


@njit(cache=True)
def ideal_orders_nb(
    side: int,
    balance: float,
    psize: float,
    pprice: float,
    ema_lo: float,
    ema_hi: float,
    last_price: float,
    params: np.ndarray,
    market: np.ndarray,
) -> tuple:
    """(entries, closes): the orders one side should have resting now.

    Flat: the initial entry only (the re-entry grid depends on where it fills). In a
    position: the whole re-entry grid and the take-profit grid. A disabled side makes no
    entries but still takes profit on a position it holds.
    """
    empty = np.empty((0, ORDER_COLS))
    if psize <= 0.0:
        if params[P_ENABLED] == 0.0:
            return empty, empty
        qty, price = initial_entry_nb(side, balance, ema_lo, ema_hi,
                                      entry_cap_price_nb(last_price, side, market), params, market)
        if qty <= 0.0:
            return empty, empty
        entries = np.empty((1, ORDER_COLS))
        entries[0, 0] = qty
        entries[0, 1] = price
        entries[0, 2] = KIND_INITIAL_ENTRY
        return entries, empty
    closes = close_grid_nb(side, psize, pprice, close_cap_price_nb(last_price, side, market),
                           params, market)
    if params[P_ENABLED] == 0.0:
        return empty, closes
    entries = entry_grid_nb(side, balance, psize, pprice,
                            entry_cap_price_nb(last_price, side, market), params, market)
    return entries, closes


@njit(cache=True)
def ema_spans_nb(params: np.ndarray) -> tuple:
    return params[P_EMA_SPAN_0], params[P_EMA_SPAN_1]
