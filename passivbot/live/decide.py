"""The decide step: state -> the calculator's ideal orders for both sides -> a Plan (pure).

Exactly the backtester's call: `grid.ideal_orders_nb(side, balance, psize, pprice, ema_lo,
ema_hi, last_price, params, market)` with the wallet balance, the EMA band of the side's two
EMAs on closed candles, and as last price the close of the last closed candle (the backtest's
last price; a tick never changes the ideal orders).
"""

from __future__ import annotations

import numpy as np

from passivbot.grid import ema_band_nb, ideal_orders_nb
from passivbot.live.diff import Plan, Wanted, diff_orders, wanted_from_arrays
from passivbot.live.state import SIDES, BotState
from passivbot.records import M_PRICE_STEP, M_QTY_STEP


def ideal_orders(state: BotState, market: np.ndarray, risk=None) -> list[Wanted]:
    """Both sides' ideal orders for the current state (long first, each nearest first).

    `risk` (live/bounded_loss.BoundedLoss or None): the bounded-loss rules, as the backtest
    applies them (unstuck close among the closes; no entries while the equity stop cools)."""
    out: list[Wanted] = []
    if state.balance <= 0.0 or state.close_price <= 0.0:
        return out
    for j, side in enumerate(SIDES):
        lo, hi = ema_band_nb(state.emas[j, 0], state.emas[j, 1])
        entries, closes = ideal_orders_nb(side, state.balance, state.psize[j], state.pprice[j],
                                          lo, hi, state.close_price, state.params[j], market)
        if risk is not None:  # -- bounded loss hook (live/bounded_loss.py) --
            entries = risk.entries(state, entries)
            closes = risk.closes(j, state, market, lo, hi, closes)
        out += wanted_from_arrays(side, entries, closes)
    return out


def decide(state: BotState, market: np.ndarray, max_actions: int, risk=None) -> Plan:
    """The actions that move the open orders to the ideal ones (cancels first, nearest first)."""
    return diff_orders(ideal_orders(state, market, risk), list(state.open_orders.values()),
                       market[M_PRICE_STEP], market[M_QTY_STEP], state.close_price, max_actions,
                       state.bid, state.ask)
