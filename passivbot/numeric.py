"""Rounding, tolerances and position arithmetic: the one place every kernel takes them from.

All functions are `@njit(cache=True)` and pure. Floats on a step are produced as
`n * step` cleaned to 12 decimals, so `0.1 + 0.2`-style residue never makes a price or a
quantity leave its step. A quantity x is "on step" when |x/step - round(x/step)| < STEP_TOL.
"""

import numpy as np
from numba import njit

# Tolerance in units of a step: absorbs float residue of x/step, far below any real step.
STEP_TOL = 1e-9
CLEAN_DECIMALS = 12


@njit(cache=True)
def clean_nb(x: float) -> float:
    """Drop float residue so stepped values compare and print exactly: rounded to 12
    decimals, or fewer where 12 would not fit a double's ~15.9 significant digits (|x| >= 1000:
    x * 10**12 past 2**53 rounds nothing, so a BTC price stayed 95813.40000000001 while the bot
    sent "95813.4" and the exchange and the backtest disagreed on a candle whose low touched it;
    found by 7-day multi-symbol parity)."""
    ax = abs(x)
    if ax < 1000.0:
        return np.round(x, CLEAN_DECIMALS)
    d = 14 - int(np.log10(ax))  # |x| * 10**d < 1e15
    return np.round(x, max(d, 0))


@njit(cache=True)
def round_up_nb(x: float, step: float) -> float:
    return clean_nb(np.ceil(x / step - STEP_TOL) * step)


@njit(cache=True)
def round_dn_nb(x: float, step: float) -> float:
    return clean_nb(np.floor(x / step + STEP_TOL) * step)


@njit(cache=True)
def round_nb(x: float, step: float) -> float:
    return clean_nb(np.round(x / step) * step)


@njit(cache=True)
def n_steps_nb(x: float, step: float) -> int:
    """x in whole steps (x is expected on step)."""
    return int(np.round(x / step))


@njit(cache=True)
def is_on_step_nb(x: float, step: float) -> bool:
    r = x / step
    return abs(r - np.round(r)) < 1e-6


@njit(cache=True)
def min_entry_qty_nb(price: float, qty_step: float, min_qty: float, min_cost: float) -> float:
    """Smallest order qty the exchange accepts at `price`: min qty and min notional (cost)."""
    return max(min_qty, round_up_nb(min_cost / price, qty_step))


@njit(cache=True)
def new_position_nb(psize: float, pprice: float, qty: float, price: float, qty_step: float) -> tuple:
    """Position (size, price) after an entry of `qty` at `price`: size-weighted average price.

    Sizes are magnitudes; the size is kept on the qty step so sums of fills never drift.
    """
    new_size = round_nb(psize + qty, qty_step)
    if new_size <= 0.0:
        return 0.0, 0.0
    return new_size, (psize * pprice + qty * price) / new_size


@njit(cache=True)
def reduce_position_nb(psize: float, pprice: float, qty: float, qty_step: float) -> tuple:
    """Position (size, price) after closing `qty`; a position closed to zero has price 0."""
    new_size = round_nb(psize - qty, qty_step)
    if new_size <= 0.0:
        return 0.0, 0.0
    return new_size, pprice


@njit(cache=True)
def close_pnl_nb(side: int, pprice: float, price: float, qty: float) -> float:
    """Realized pnl (quote, before fees) of closing `qty` of a `side` position at `price`."""
    return side * (price - pprice) * qty


@njit(cache=True)
def wallet_exposure_nb(balance: float, psize: float, pprice: float) -> float:
    """Position cost / wallet balance: the risk budget `wallet_exposure_limit` bounds."""
    if balance <= 0.0:
        return np.inf if psize > 0.0 else 0.0
    return psize * pprice / balance
