"""Bounded loss: auto-unstuck and the equity stop, decided by pure kernels beside the grid.

Only `@njit(cache=True)` pure functions over floats and numpy arrays; no IO, no config objects,
no globals (conventions in `passivbot.records`). The backtester and the live bot hold the same
small state (below) and call the same functions, so a backtest and a live run decide alike.

Arguments that recur:
- `side`: LONG (+1) or SHORT (-1); sizes are magnitudes, every price rule is written once with
  the side's sign (as in `passivbot.grid`);
- `rparams`: float64[N_RISK_PARAMS], one side's unstuck keys (U_* indices), built by
  `passivbot.config.risk.unstuck_params()`; all zero = off;
- `params`: float64[N_PARAMS], the side's grid parameters (for wallet_exposure_limit);
- `market`: float64[N_MARKET], price step, qty step, min qty, min cost (M_* indices);
- `balance`: wallet balance, quote; `psize`/`pprice`: the side's position size and price;
- `ema_lo`/`ema_hi`: the side's EMA band; `last_price`: the last traded price;
- `peak_balance`: the highest wallet balance since the run (backtest) or the bot's state file
  (live) started, quote; the caller raises it after every balance change;
- `unstuck_loss`: the side's realized unstuck loss so far, quote, >= 0 (loss after fee, summed
  over unstuck-close fills: `max(0, fee - pnl)` each); never decreases;
- `fee_rate`: the fee rate an unstuck close pays (maker: it rests as a limit order), ratio;
- `equity`: wallet balance + unrealized pnl of both sides, quote; `peak_equity`: its running
  peak as returned by `equity_stop_nb`;
- `now_ms`, `stop_until_ms`: int64 ms since epoch; stop_until_ms = 0 means "not stopped",
  STOP_FOREVER means "until a person clears it".

The unstuck allowance is over the whole run: realized unstuck losses of a side may total at most
`unstuck_loss_allowance_pct` x the peak balance. Profits raise the peak and so the allowance;
a loss never gives allowance back. (Passivbot v7 bounds by the balance's drop from its peak
instead, any loss counted, refilled as soon as the balance recovers; a whole-run sum of the
unstuck losses alone is two floats to persist, checkable from the fills, and a loss taken once
is never allowed again.)
"""

import numpy as np
from numba import njit

from passivbot.grid import (
    close_cap_price_nb, close_grid_nb, passive_close_price_nb, round_close_price_nb,
)
from passivbot.numeric import min_entry_qty_nb, round_dn_nb, round_nb
from passivbot.records import (  # noqa: F401 (re-export: the kinds these kernels place)
    KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, M_MIN_COST, M_MIN_QTY, M_PRICE_STEP, M_QTY_STEP,
    ORDER_COLS, P_WALLET_EXPOSURE_LIMIT,
)

# One side's unstuck parameters (float64 array of length N_RISK_PARAMS); the config keys are
# passivbot.config.risk.UNSTUCK_KEYS, in this order.
U_THRESHOLD = 0  # unstuck when wallet exposure > this x wallet_exposure_limit (0 = off)
U_CLOSE_PCT = 1  # close this share of the position per unstuck order
U_EMA_DIST = 2  # long closes at upper band x (1 + dist), short at lower band x (1 - dist)
U_LOSS_ALLOWANCE_PCT = 3  # total realized unstuck loss <= this x peak balance
N_RISK_PARAMS = 4

# Equity stop parameters (float64 array of length N_STOP_PARAMS; keys config.risk.STOP_KEYS).
S_DRAWDOWN = 0  # stop when equity < peak equity x (1 - this) (0 = off)
S_COOLDOWN_MINUTES = 1  # stopped for this long after firing (0 = until a person clears it)
N_STOP_PARAMS = 2

# Why unstuck_close_nb placed nothing (or UNSTUCK_OK).
UNSTUCK_OK = 0
UNSTUCK_OFF = 1  # a key is 0
UNSTUCK_NO_POSITION = 2
UNSTUCK_BELOW_THRESHOLD = 3  # exposure not above threshold x limit
UNSTUCK_NO_ALLOWANCE = 4  # the loss allowance left cannot pay even the minimum order
UNSTUCK_BAD_PRICE = 5  # no positive price (EMA band not seeded, no balance)
UNSTUCK_REASONS = ("ok", "off", "no position", "below threshold", "allowance exhausted",
                   "no price")

# equity_stop_nb's decision.
STOP_OFF = 0  # equity_stop_drawdown is 0
STOP_TRADING = 1  # not stopped
STOP_FIRE = 2  # fire now: close both positions at market; stopped until the returned time
STOP_COOLING = 3  # stopped: no entries, positions closed, until stop_until_ms
STOP_NAMES = ("off", "trading", "fire", "cooling")
STOP_FOREVER = np.iinfo(np.int64).max
MINUTE_MS = 60_000


# ---------------------------------------------------------------------------------------------
# Auto-unstuck


@njit(cache=True)
def unstuck_allowance_nb(rparams: np.ndarray, peak_balance: float, unstuck_loss: float) -> float:
    """Quote the side may still lose to unstuck closes: pct x peak balance - losses so far, >= 0."""
    return max(0.0, rparams[U_LOSS_ALLOWANCE_PCT] * peak_balance - unstuck_loss)


@njit(cache=True)
def unstuck_loss_nb(side: int, pprice: float, price: float, qty: float, fee_rate: float) -> float:
    """Loss (quote, >= 0) a close of `qty` at `price` realizes: fee minus pnl, as
    `fills.apply_fill_nb` settles it; 0 for a close in profit after fee."""
    pnl = side * (price - pprice) * qty
    fee = abs(qty * price) * fee_rate
    return max(0.0, fee - pnl)


@njit(cache=True)
def unstuck_price_nb(
    side: int, ema_lo: float, ema_hi: float, last_price: float, rparams: np.ndarray,
    market: np.ndarray,
) -> float:
    """Long sells at upper band x (1 + dist), short buys at lower band x (1 - dist): the far side
    of the band, where a bounce reaches; never across the last price, rounded away from it."""
    band = ema_hi if side > 0 else ema_lo
    raw = band * (1.0 + side * rparams[U_EMA_DIST])
    cap = close_cap_price_nb(last_price, side, market)  # passive ticks, as the grid's closes
    return round_close_price_nb(passive_close_price_nb(raw, cap, side), market[M_PRICE_STEP],
                                side)


@njit(cache=True)
def unstuck_close_nb(
    side: int,
    balance: float,
    psize: float,
    pprice: float,
    ema_lo: float,
    ema_hi: float,
    last_price: float,
    params: np.ndarray,
    rparams: np.ndarray,
    market: np.ndarray,
    peak_balance: float,
    unstuck_loss: float,
    fee_rate: float,
) -> tuple:
    """(qty, price, reason): one reduce-only unstuck close, or (0, 0, UNSTUCK_*) and why not.

    When the side's wallet exposure is above unstuck_threshold x wallet_exposure_limit, close
    unstuck_close_pct of the position (rounded down, raised to the exchange minimum, at most the
    position) at `unstuck_price_nb`, even below the position price. The qty is cut (rounded
    down) so the loss it realizes, fee included, stays within `unstuck_allowance_nb`; if the
    cut leaves less than the exchange minimum (and not the whole position) nothing is placed.
    """
    qty_step = market[M_QTY_STEP]
    if (rparams[U_THRESHOLD] <= 0.0 or rparams[U_CLOSE_PCT] <= 0.0
            or rparams[U_LOSS_ALLOWANCE_PCT] <= 0.0):
        return 0.0, 0.0, UNSTUCK_OFF
    if psize <= 0.0:
        return 0.0, 0.0, UNSTUCK_NO_POSITION
    if balance <= 0.0 or min(ema_lo, ema_hi, last_price) <= 0.0:
        return 0.0, 0.0, UNSTUCK_BAD_PRICE
    if psize * pprice / balance <= rparams[U_THRESHOLD] * params[P_WALLET_EXPOSURE_LIMIT]:
        return 0.0, 0.0, UNSTUCK_BELOW_THRESHOLD
    price = unstuck_price_nb(side, ema_lo, ema_hi, last_price, rparams, market)
    if price <= 0.0:
        return 0.0, 0.0, UNSTUCK_BAD_PRICE
    min_qty = min_entry_qty_nb(price, qty_step, market[M_MIN_QTY], market[M_MIN_COST])
    qty = min(psize, max(min_qty, round_dn_nb(psize * rparams[U_CLOSE_PCT], qty_step)))
    room = unstuck_allowance_nb(rparams, peak_balance, unstuck_loss)
    per_unit = unstuck_loss_nb(side, pprice, price, 1.0, fee_rate)
    if per_unit > 0.0 and qty * per_unit > room:
        qty = round_dn_nb(room / per_unit, qty_step)
        # round_dn tolerates 1e-9 of a step: step down until the loss, computed as the fill
        # will compute it, is within the allowance.
        while qty > 0.0 and unstuck_loss_nb(side, pprice, price, qty, fee_rate) > room:
            qty = round_nb(qty - qty_step, qty_step)
        if qty <= 0.0 or (qty < min_qty and qty < psize):
            return 0.0, 0.0, UNSTUCK_NO_ALLOWANCE
    return qty, price, UNSTUCK_OK


@njit(cache=True)
def closes_with_unstuck_nb(
    side: int,
    balance: float,
    psize: float,
    pprice: float,
    ema_lo: float,
    ema_hi: float,
    last_price: float,
    params: np.ndarray,
    rparams: np.ndarray,
    market: np.ndarray,
    peak_balance: float,
    unstuck_loss: float,
    fee_rate: float,
) -> tuple:
    """(closes, reason): the side's reduce-only orders with the unstuck close among them.

    Without an unstuck close: `grid.close_grid_nb` unchanged. With one: the take-profit grid is
    computed for the rest of the position (psize - unstuck qty), so the closes still sum exactly
    to psize (an exchange refuses reduce-only orders beyond the position), and the unstuck close
    (KIND_UNSTUCK_CLOSE) is inserted in price order, nearest to the market first.
    """
    qty, price, reason = unstuck_close_nb(side, balance, psize, pprice, ema_lo, ema_hi,
                                          last_price, params, rparams, market, peak_balance,
                                          unstuck_loss, fee_rate)
    # The take-profit grid capped as grid.ideal_orders_nb caps it (passive ticks off the last
    # price), so a side with the rule on closes where the same side without it would.
    cap = close_cap_price_nb(last_price, side, market)
    if reason != UNSTUCK_OK:
        return close_grid_nb(side, psize, pprice, cap, params, market), reason
    rest = round_nb(psize - qty, market[M_QTY_STEP])
    grid = close_grid_nb(side, rest, pprice, cap, params, market)
    n = grid.shape[0]
    out = np.empty((n + 1, ORDER_COLS))
    k = 0
    placed = False
    for i in range(n):
        # A close sells (long) or buys (short): nearest = lowest price for long, highest short.
        if not placed and side * price <= side * grid[i, 1]:
            out[k, 0], out[k, 1], out[k, 2] = qty, price, KIND_UNSTUCK_CLOSE
            k += 1
            placed = True
        out[k, 0], out[k, 1], out[k, 2] = grid[i, 0], grid[i, 1], grid[i, 2]
        k += 1
    if not placed:
        out[k, 0], out[k, 1], out[k, 2] = qty, price, KIND_UNSTUCK_CLOSE
    return out, reason


# ---------------------------------------------------------------------------------------------
# Equity stop


@njit(cache=True)
def equity_stop_nb(
    equity: float, peak_equity: float, stop_until_ms: int, now_ms: int, sparams: np.ndarray
) -> tuple:
    """(decision, stop_until_ms, peak_equity): the equity stop's state after one observation.

    - off (drawdown 0): STOP_OFF; the peak is still tracked.
    - stopped (now < stop_until): STOP_COOLING; the peak follows equity, so trading resumes
      from a fresh peak instead of firing again on the old one.
    - equity < peak x (1 - drawdown): STOP_FIRE, stopped until now + cool-down (STOP_FOREVER
      for a cool-down of 0) with the peak re-based to this equity. The caller closes both
      positions at market (the backtest at the next candle's open one price step against the
      taker, `fills.market_price_nb`, taker fee).
    - else STOP_TRADING with the raised peak.
    """
    if now_ms < stop_until_ms:
        return STOP_COOLING, stop_until_ms, equity
    peak = max(peak_equity, equity)
    drawdown = sparams[S_DRAWDOWN]
    if drawdown <= 0.0:
        return STOP_OFF, stop_until_ms, peak
    if equity < peak * (1.0 - drawdown):
        minutes = sparams[S_COOLDOWN_MINUTES]
        until = STOP_FOREVER if minutes <= 0.0 else now_ms + int(minutes * MINUTE_MS)
        return STOP_FIRE, until, equity
    return STOP_TRADING, stop_until_ms, peak


@njit(cache=True)
def entries_allowed_nb(stop_until_ms: int, now_ms: int) -> bool:
    """No entry (initial or re-entry) while the stop cools down."""
    return now_ms >= stop_until_ms


@njit(cache=True)
def filter_entries_nb(entries: np.ndarray, stop_until_ms: int, now_ms: int) -> np.ndarray:
    """`entries` as they are when trading, none while stopped (closes are never filtered)."""
    if entries_allowed_nb(stop_until_ms, now_ms):
        return entries
    return np.empty((0, ORDER_COLS))


@njit(cache=True)
def stop_close_nb(psize: float, price: float) -> np.ndarray:
    """The stop's close of one side: all of the position at `price` (the price the market
    close is assumed to get: in the backtest `fills.market_price_nb` of the next candle's
    open), KIND_STOP_CLOSE."""
    if psize <= 0.0:
        return np.empty((0, ORDER_COLS))
    out = np.empty((1, ORDER_COLS))
    out[0, 0], out[0, 1], out[0, 2] = psize, price, KIND_STOP_CLOSE
    return out
