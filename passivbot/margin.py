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

The maintenance tier is the one that holds the position's notional AT THE MARK PRICE (Binance
"Leverage and Margin of USDⓈ-M Futures": maintenance margin = notional x MMR - cum, notional =
size x mark price; Bybit "Risk Limit": the tier of the position value). At the liquidation
price P the notional is size x P, so `hedged_liq_price_nb` solves the formula once per pair of
tiers and keeps the root that lies in the price range where those tiers hold: at the returned
price, equity = maintenance margin with the tiers chosen at that price (tier boundaries
included; the tables' maintenance amounts make MM continuous there).

The other rules the backtester and the emulator share (one function each):
- funding (`funding_payment_nb`): at each funding time every position pays
  size x mark price x rate, longs pay and shorts receive when the rate is positive, the
  reverse when negative (Binance "Introduction to Binance Futures Funding Rates": funding
  amount = nominal value of positions x funding rate; Bybit "Funding Fee Calculation": funding
  fee = position value x funding rate, position value = qty x mark price);
- initial margin (`available_margin_nb`, `entry_margin_ok_nb`): cross margin, hedge mode, one
  symbol. Binance ("How to Check Futures Wallet Balance"): Available for Order = max(0,
  crossWalletBalance + sum of cross unrealized PnL - sum of cross initial margin), initial
  margin of positions and of open orders = notional / leverage. Bybit unified account
  (v5 "Get Wallet Balance"): totalAvailableBalance = totalMarginBalance - totalInitialMargin,
  margin balance = wallet balance + unrealized PnL, initial margin = positions' and orders'
  IM = value / leverage. Both read: available = wallet balance + unrealized PnL - IM(positions)
  - IM(open entry orders); an order that would open or add to a position is refused when its
  own IM (qty x price / leverage) exceeds what is available ("Margin is insufficient");
- liquidation settlement (`liquidation_fill_price_nb`, `liquidation_balance_nb`): the positions
  close at the liquidation price, or at the candle's open when the candle opens past it (a
  gap: the first price traded); the margin left is lost (Binance's liquidation clearance fee,
  Bybit's bankruptcy-price close: it goes to the insurance fund), so the wallet ends at 0; a
  gap that leaves less than nothing is the insurance fund's loss, never the account's: the
  balance is floored at 0.
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
def maintenance_margin_nb(psize: float, mark: float, brackets: np.ndarray, mmr_add: float) -> float:
    """Maintenance margin of one position: notional at the mark x (MMR + mmr_add) - cum, with
    the tier that holds that notional."""
    if psize <= 0.0:
        return 0.0
    notional = psize * mark
    mmr, cum = bracket_nb(brackets, notional)
    return notional * (mmr + mmr_add) - cum


# Relative slack on a tier segment's ends when accepting a liquidation price in it.
ROOT_SLACK = 1e-9


@njit(cache=True)
def _tier_price_range_nb(brackets: np.ndarray, k: int, psize: float) -> tuple:
    """(lo, hi]: the mark prices at which a position of `psize` is in tier k (bracket_nb's
    rule: the first tier whose cap holds the notional; the last tier holds everything above)."""
    n = brackets.shape[0]
    if psize <= 0.0:
        return 0.0, np.inf
    lo = 0.0 if k == 0 else brackets[k - 1, BR_NOTIONAL_CAP] / psize
    hi = np.inf if k == n - 1 else brackets[k, BR_NOTIONAL_CAP] / psize
    return lo, hi


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
    """(price, direction) of liq_price_nb with each side's tier chosen by its notional at the
    liquidation price itself (the mark price at which it triggers), see the module docstring.

    `mmr_add` is added to every rate (Bybit: the taker fee to close; Binance: 0). When no
    positive price brings equity to maintenance: (0, LIQ_ABOVE) if the account is already
    under maintenance at every price, else (0, LIQ_NONE). Were the top tiers to give both a
    floor and a ceiling (a hedge so large that its top-tier rates flip the slope), the root on
    the side the lowest tiers point to is returned.
    """
    if psize_long <= 0.0 and psize_short <= 0.0:
        return 0.0, LIQ_NONE
    # Walk the price axis once: segments (lo, hi] in which both sides' tiers are constant (the
    # tiers' price ranges merged, two pointers), solving the formula in each.
    n = brackets.shape[0]
    below, above = -1.0, np.inf
    first_dir = LIQ_NONE
    a, b, lo = 0, 0, 0.0
    while True:
        hi_l = _tier_price_range_nb(brackets, a, psize_long)[1]
        hi_s = _tier_price_range_nb(brackets, b, psize_short)[1]
        hi = min(hi_l, hi_s)
        if hi > lo:
            lp, d = liq_price_nb(
                balance, psize_long, pprice_long, brackets[a, BR_MMR] + mmr_add,
                brackets[a, BR_MAINT_AMOUNT], psize_short, pprice_short,
                brackets[b, BR_MMR] + mmr_add, brackets[b, BR_MAINT_AMOUNT],
            )
            if first_dir == LIQ_NONE:
                first_dir = d
            # the segment's ends with a relative slack: a root on a tier cap computed from
            # either side may round just past it (MM is continuous there, so it is a root)
            if lo * (1.0 - ROOT_SLACK) < lp <= hi * (1.0 + ROOT_SLACK):
                if d == LIQ_BELOW:
                    below = max(below, lp)
                elif d == LIQ_ABOVE:
                    above = min(above, lp)
        if hi == np.inf:
            break
        lo = hi
        if hi_l == hi:
            a = min(a + 1, n - 1)
        if hi_s == hi:
            b = min(b + 1, n - 1)
    if below > 0.0 and (above == np.inf or first_dir != LIQ_ABOVE):
        return below, LIQ_BELOW
    if above < np.inf:
        return above, LIQ_ABOVE
    # No root: equity - maintenance keeps one sign over all prices; test it at one price.
    ref = pprice_long if psize_long > 0.0 else pprice_short
    equity = balance + psize_long * (ref - pprice_long) + psize_short * (pprice_short - ref)
    mm = (maintenance_margin_nb(psize_long, ref, brackets, mmr_add)
          + maintenance_margin_nb(psize_short, ref, brackets, mmr_add))
    if equity <= mm:
        return 0.0, LIQ_ABOVE
    return 0.0, LIQ_NONE


@njit(cache=True)
def funding_payment_nb(side: int, psize: float, mark: float, rate: float) -> float:
    """What a `side` position of `psize` pays at a funding event (quote; negative: receives):
    side x size x mark x rate (longs pay a positive rate, shorts receive it)."""
    return side * psize * mark * rate


@njit(cache=True)
def initial_margin_nb(notional: float, leverage: float) -> float:
    """Initial margin of a position or an order: notional / leverage."""
    return notional / leverage


@njit(cache=True)
def available_margin_nb(balance: float, upnl: float, im_positions: float, im_orders: float) -> float:
    """What the account can still commit to a new entry (cross margin, see module docstring):
    wallet balance + unrealized PnL - initial margin of positions and of open entry orders."""
    return balance + upnl - im_positions - im_orders


# Slack for float residue in the margin comparison (quote units), far below any real order.
MARGIN_TOL = 1e-9


@njit(cache=True)
def entry_margin_ok_nb(available: float, qty: float, price: float, leverage: float) -> bool:
    """Whether an entry of qty at price fits in the available margin (else refused)."""
    return initial_margin_nb(qty * price, leverage) <= available + MARGIN_TOL


@njit(cache=True)
def is_liquidated_nb(liq_price: float, direction: int, low: float, high: float) -> bool:
    """Whether a candle's range reaches the liquidation price."""
    if direction == LIQ_BELOW:
        return low <= liq_price
    if direction == LIQ_ABOVE:
        return high >= liq_price
    return False


@njit(cache=True)
def liquidation_fill_price_nb(liq_price: float, direction: int, open_: float) -> float:
    """Where a liquidation in a candle that reaches `liq_price` settles: at the liquidation
    price, or at the candle's open when the candle opens past it (a gap: the first traded price
    is already beyond; also an account under maintenance at any price, liq_price 0 above).
    Backtester and emulator both use it."""
    if direction == LIQ_BELOW:
        return min(liq_price, open_)
    return max(liq_price, open_)


@njit(cache=True)
def worst_extreme_nb(psize_long: float, pprice_long: float, psize_short: float,
                     pprice_short: float, low: float, high: float) -> tuple:
    """(unrealized pnl, price) of one symbol's two positions at the extreme of a candle that is
    worse for their net: the price the account's cross-margin liquidation check (several
    symbols on one wallet) values the symbol at. Backtester and emulator both use it."""
    u_lo = psize_long * (low - pprice_long) - psize_short * (low - pprice_short)
    u_hi = psize_long * (high - pprice_long) - psize_short * (high - pprice_short)
    if u_lo <= u_hi:
        return u_lo, low
    return u_hi, high


@njit(cache=True)
def liquidation_balance_nb(balance_after_close: float) -> tuple:
    """(wallet balance, margin lost) after a liquidation: the positions are closed (their pnl
    and taker fees are in `balance_after_close`) and what margin remains is lost to the
    exchange; a gap's deficit is the insurance fund's, so the balance is 0, never negative."""
    return 0.0, balance_after_close
