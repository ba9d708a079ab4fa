"""Maintenance margin and the liquidation price of a hedged (long + short) cross-margin account.

Leaf module (no project imports): the backtester (via grid), the live bot and the emulator all
compute liquidation the same way.

Binance USD-M, cross margin, hedge mode, one symbol (Binance support FAQ "How to Calculate
Liquidation Price of USD-M Futures Contracts", the cross-margin formula with TMM1 = UPNL1 = 0
and no one-way position):

    LP = (WB + cum_L + cum_S - size_L * ep_L + size_S * ep_S)
         / (size_L * mmr_L + size_S * mmr_S - size_L + size_S)

Bybit linear, unified account, cross margin: liquidation when equity falls to the maintenance
margin, MM = size * P * mmr - mmDeduction per position, equity = WB + unrealized pnl. Solving
WB + size_L (P - ep_L) + size_S (ep_S - P) = P (size_L mmr_L + size_S mmr_S) - mmd_L - mmd_S
for P gives the same expression with cum = mmDeduction; so one kernel serves both exchanges and
only the tier tables differ (Bybit adds the close fee to the rate: pass mmr + taker fee).
"""

import numpy as np
from numba import njit

from passivbot.records import BR_MAINT_AMOUNT, BR_MMR, BR_NOTIONAL_CAP

# Direction of the liquidation trigger.
LIQ_NONE = 0
LIQ_BELOW = 1  # liquidated when the price falls to it (net long)
LIQ_ABOVE = -1  # liquidated when the price rises to it (net short, or fully hedged)


@njit(cache=True)
def bracket_nb(brackets: np.ndarray, notional: float) -> tuple:
    """(maintenance margin rate, maintenance amount) of the tier that holds `notional`."""
    n = brackets.shape[0]
    for i in range(n):
        if notional <= brackets[i, BR_NOTIONAL_CAP]:
            return brackets[i, BR_MMR], brackets[i, BR_MAINT_AMOUNT]
    return brackets[n - 1, BR_MMR], brackets[n - 1, BR_MAINT_AMOUNT]


@njit(cache=True)
def liq_price_nb(
    balance: float,
    psize_long: float,
    pprice_long: float,
    mmr_long: float,
    maint_long: float,
    psize_short: float,
    pprice_short: float,
    mmr_short: float,
    maint_short: float,
) -> tuple:
    """(price, direction): where the hedged account is liquidated, and from which side.

    direction LIQ_BELOW: liquidated if price <= price; LIQ_ABOVE: if price >= price;
    LIQ_NONE: no position, or no positive price liquidates it (price is then 0 or inf).
    """
    if psize_long <= 0.0 and psize_short <= 0.0:
        return 0.0, LIQ_NONE
    cum_l = maint_long if psize_long > 0.0 else 0.0
    cum_s = maint_short if psize_short > 0.0 else 0.0
    num = balance + cum_l + cum_s - psize_long * pprice_long + psize_short * pprice_short
    den = psize_long * mmr_long + psize_short * mmr_short - psize_long + psize_short
    if den < 0.0:
        # Equity minus maintenance falls as the price falls: a floor.
        lp = num / den
        if lp <= 0.0:
            return 0.0, LIQ_NONE
        return lp, LIQ_BELOW
    if den > 0.0:
        lp = num / den
        if lp <= 0.0:
            # Already below maintenance at any positive price.
            return 0.0, LIQ_ABOVE
        return lp, LIQ_ABOVE
    return np.inf, LIQ_NONE


@njit(cache=True)
def hedged_liq_price_nb(
    balance: float,
    psize_long: float,
    pprice_long: float,
    psize_short: float,
    pprice_short: float,
    brackets: np.ndarray,
    mmr_add: float,
) -> tuple:
    """liq_price_nb with each side's tier looked up by its notional at position price.

    `mmr_add` is added to every rate (Bybit: the taker fee to close; Binance: 0).
    """
    mmr_l, cum_l = bracket_nb(brackets, psize_long * pprice_long)
    mmr_s, cum_s = bracket_nb(brackets, psize_short * pprice_short)
    return liq_price_nb(
        balance, psize_long, pprice_long, mmr_l + mmr_add, cum_l,
        psize_short, pprice_short, mmr_s + mmr_add, cum_s,
    )


@njit(cache=True)
def is_liquidated_nb(liq_price: float, direction: int, low: float, high: float) -> bool:
    """Whether a candle's range reaches the liquidation price."""
    if direction == LIQ_BELOW:
        return low <= liq_price
    if direction == LIQ_ABOVE:
        return high >= liq_price
    return False


@njit(cache=True)
def liquidation_fill_price_nb(liq_price: float, low: float, high: float) -> float:
    """Where a liquidation inside this candle settles: the liquidation price, clipped into the
    candle's range. The clip matters when the account is under maintenance at any price (the
    formula gives 0 or a price beyond the candle): the position then closes at the candle's
    worst traded price, never at a price that did not trade. Backtester and emulator both use it.
    """
    return min(max(liq_price, low), high)
