"""Statistics of one backtest, in pure numpy: what a trader reads to decide whether a config
survives. Every value is a finite float (JSON-safe); ratios are fractions (0.01 = 1 %).

Daily figures come from the hourly equity samples (`engine.EQ_*`): the sample at candle 0 and
every 24th sample after it are the day boundaries, the last sample closes the last (maybe
partial) day.
"""

from __future__ import annotations

import numpy as np

from passivbot.backtest.engine import (
    EQ_EQUITY, EQUITY_EVERY, S_CLOSEST_LIQ, S_LAST_INDEX, S_LIQUIDATED, S_MAX_WE_LONG,
    S_MAX_WE_SHORT,
)
from passivbot.records import KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, KIND_REENTRY, LONG, SHORT

MINUTES_PER_DAY = 1440
STAT_KEYS = (
    "final_balance", "final_equity", "gain", "days", "average_daily_gain", "median_daily_gain",
    "max_drawdown", "sharpe", "sortino", "closest_liquidation_distance", "liquidated",
    "max_hours_stuck", "max_hours_stuck_long", "max_hours_stuck_short", "n_fills", "n_entries",
    "n_closes", "n_liquidations", "fills_per_day", "fees_paid", "volume",
    "max_wallet_exposure_long", "max_wallet_exposure_short",
)


def daily_equity(equity: np.ndarray) -> np.ndarray:
    """Equity at each day boundary (every 24th hourly sample) and at the end."""
    per_day = MINUTES_PER_DAY // EQUITY_EVERY
    eq = equity[:, EQ_EQUITY]
    if len(eq) == 0:
        return eq
    idx = np.arange(0, len(eq), per_day)
    if idx[-1] != len(eq) - 1:
        idx = np.r_[idx, len(eq) - 1]
    return eq[idx]


def daily_returns(equity: np.ndarray) -> np.ndarray:
    d = daily_equity(equity)
    if len(d) < 2:
        return np.zeros(0)
    prev = d[:-1]
    return np.where(prev > 0, d[1:] / np.where(prev > 0, prev, 1.0) - 1.0, -1.0)


def max_drawdown(series: np.ndarray) -> float:
    """Largest fall from a running peak, as a fraction of the peak (>= 0)."""
    if len(series) == 0:
        return 0.0
    peak = np.maximum.accumulate(series)
    dd = np.where(peak > 0, (peak - series) / np.where(peak > 0, peak, 1.0), 1.0)
    return float(dd.max())


def max_minutes_stuck(fills: np.ndarray, side: int, last_index: int) -> int:
    """Longest span (minutes) without a fill on `side` while it held a position; an open
    position at the end counts until the last candle run."""
    f = fills[fills["side"] == side]
    if len(f) == 0:
        return 0
    minutes = f["minute"].astype(np.int64)
    gaps = np.diff(np.r_[minutes, last_index])
    open_after = f["psize"] > 0.0
    return int(gaps[open_after].max()) if open_after.any() else 0


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 1e-15 else 0.0


def _finite(x: float) -> float:
    x = float(x)
    if np.isnan(x):
        return 0.0
    return float(np.clip(x, -1e300, 1e300))


def compute_stats(
    fills: np.ndarray,
    equity: np.ndarray,
    summary: np.ndarray,
    candles: np.ndarray,
    starting_balance: float,
) -> dict[str, float]:
    """The stats of one run (keys STAT_KEYS, all floats); see BACKTEST_CONTRACT.md."""
    last_index = int(summary[S_LAST_INDEX])
    days = max(last_index + 1, 1) / MINUTES_PER_DAY
    final_balance = float(fills["balance"][-1]) if len(fills) else float(starting_balance)
    final_equity = float(equity[-1, EQ_EQUITY]) if len(equity) else float(starting_balance)
    growth = final_equity / starting_balance
    rets = daily_returns(equity)
    downside = np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2)) if len(rets) else 0.0
    kinds = fills["kind"]
    stuck_long = max_minutes_stuck(fills, LONG, last_index) / 60.0
    stuck_short = max_minutes_stuck(fills, SHORT, last_index) / 60.0
    stats = {
        "final_balance": final_balance,
        "final_equity": final_equity,
        "gain": growth - 1.0,
        "days": days,
        "average_daily_gain": (growth ** (1.0 / days) - 1.0) if growth > 0 else -1.0,
        "median_daily_gain": float(np.median(rets)) if len(rets) else 0.0,
        "max_drawdown": max_drawdown(equity[:, EQ_EQUITY]) if len(equity) else 0.0,
        "sharpe": _ratio(rets.mean(), rets.std()) if len(rets) else 0.0,
        "sortino": _ratio(rets.mean(), downside) if len(rets) else 0.0,
        "closest_liquidation_distance": float(min(1.0, summary[S_CLOSEST_LIQ])),
        "liquidated": float(summary[S_LIQUIDATED]),
        "max_hours_stuck": max(stuck_long, stuck_short),
        "max_hours_stuck_long": stuck_long,
        "max_hours_stuck_short": stuck_short,
        "n_fills": float(len(fills)),
        "n_entries": float(np.sum((kinds == KIND_INITIAL_ENTRY) | (kinds == KIND_REENTRY))),
        "n_closes": float(np.sum(kinds == KIND_CLOSE)),
        "n_liquidations": float(np.sum(kinds == KIND_LIQUIDATION)),
        "fills_per_day": len(fills) / days,
        "fees_paid": float(fills["fee"].sum()),
        "volume": float(np.sum(fills["qty"] * fills["price"])),
        "max_wallet_exposure_long": float(summary[S_MAX_WE_LONG]),
        "max_wallet_exposure_short": float(summary[S_MAX_WE_SHORT]),
    }
    return {k: _finite(stats[k]) for k in STAT_KEYS}
