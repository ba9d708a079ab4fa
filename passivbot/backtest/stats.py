"""Statistics of one backtest, in pure numpy: what a trader reads to decide whether a config
survives. Every value is a finite float (JSON-safe); ratios are fractions (0.01 = 1 %).

Definitions (stated next to the numbers, docs/backtest.md repeats them):
- days: traded minutes / 1440 (candles after the EMA warm-up, up to the last one run);
- gain = final equity / starting balance - 1; average_daily_gain = (1 + gain) ** (1 / days) - 1;
- daily returns: equity at each whole day after the warm-up (every 24th hourly sample,
  `engine.EQ_*`), day over day. A partial last day is not a daily return and is left out,
  except in a liquidated run, whose last (partial) day is counted with its loss;
- sharpe = mean / sample std (ddof 1) of the daily returns x sqrt(365), sortino = mean /
  downside deviation (root mean square of min(r, 0)) x sqrt(365): annualised over 365 days
  (crypto trades every day), risk-free rate 0; 0 with fewer than 2 daily returns;
- max_drawdown: the largest fall from the running peak of close equity to any candle's worst
  equity (long marked at the candle's low, short at its high), as a fraction of the peak,
  measured by the engine on every candle (1.0 after a liquidation);
- funding_paid / funding_received: sums of the funding payments (both >= 0); funding_net =
  received - paid; funding_modelled = 1 when funding events fell inside the traded candles
  (0: no funding data, or none in range); fees_paid excludes the margin lost at liquidation
  (liquidation_margin_lost);
- bounded loss (passivbot.risk): n_unstuck_closes and unstuck_loss (fee - pnl of those fills,
  both sides), n_equity_stops (times the stop fired) and n_stop_closes (its market closes);
  n_closes counts take-profits only.
"""

from __future__ import annotations

import numpy as np

from passivbot.backtest.engine import (
    EQ_EQUITY, EQUITY_EVERY, S_CLOSEST_LIQ, S_FUNDING_PAID, S_FUNDING_RECEIVED, S_LAST_INDEX,
    S_FUNDING_EVENTS, S_LIQ_MARGIN_LOST, S_LIQUIDATED, S_MARGIN_REFUSED, S_MAX_DRAWDOWN, S_MAX_WE_LONG,
    S_MAX_WE_SHORT, S_STOPS, S_UNSTUCK_LOSS_LONG, S_UNSTUCK_LOSS_SHORT, S_WARMUP,
)
from passivbot.records import (
    KIND_CLOSE, KIND_FUNDING, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, KIND_REENTRY,
    KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG, SHORT,
)

MINUTES_PER_DAY = 1440
DAYS_PER_YEAR = 365
STAT_KEYS = (
    "final_balance", "final_equity", "gain", "days", "average_daily_gain", "median_daily_gain",
    "max_drawdown", "sharpe", "sortino", "closest_liquidation_distance", "liquidated",
    "max_hours_stuck", "max_hours_stuck_long", "max_hours_stuck_short", "n_fills", "n_entries",
    "n_closes", "n_liquidations", "fills_per_day", "fees_paid", "volume",
    "max_wallet_exposure_long", "max_wallet_exposure_short", "funding_paid", "funding_received",
    "funding_net", "funding_modelled", "n_margin_refused", "liquidation_margin_lost",
    "n_unstuck_closes", "unstuck_loss", "n_equity_stops", "n_stop_closes",
)


def daily_equity(equity: np.ndarray, minutes: int | None = None,
                 include_partial: bool = False) -> np.ndarray:
    """Equity at the start and at each whole-day boundary of a run of `minutes` traded minutes
    (sample k is the close of candle warm-up + 60 k; the last sample is the last candle run);
    the last sample too when it ends a partial day and `include_partial`. `minutes` None: the
    samples are taken as exactly hourly."""
    per_day = MINUTES_PER_DAY // EQUITY_EVERY
    eq = equity[:, EQ_EQUITY]
    if len(eq) == 0:
        return eq
    if minutes is None:
        minutes = (len(eq) - 1) * EQUITY_EVERY
    full_days = minutes // MINUTES_PER_DAY
    out = eq[: full_days * per_day + 1: per_day]
    if include_partial and minutes % MINUTES_PER_DAY != 0:
        out = np.r_[out, eq[-1]]
    return out


def daily_returns(equity: np.ndarray, minutes: int | None = None,
                  include_partial: bool = False) -> np.ndarray:
    """Day-over-day returns of daily_equity (a day that starts at equity <= 0 returns -1)."""
    d = daily_equity(equity, minutes, include_partial)
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


def sharpe_ratio(rets: np.ndarray) -> float:
    """Annualised Sharpe of daily returns: mean / sample std x sqrt(365), risk-free 0."""
    if len(rets) < 2:
        return 0.0
    return _ratio(rets.mean(), rets.std(ddof=1)) * np.sqrt(DAYS_PER_YEAR)


def sortino_ratio(rets: np.ndarray) -> float:
    """Annualised Sortino of daily returns: mean / sqrt(mean(min(r, 0)^2)) x sqrt(365)."""
    if len(rets) < 2:
        return 0.0
    downside = np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2))
    return _ratio(rets.mean(), downside) * np.sqrt(DAYS_PER_YEAR)


def max_minutes_stuck(fills: np.ndarray, side: int, last_index: int) -> int:
    """Longest span (minutes) without a fill on `side` while it held a position; an open
    position at the end counts until the last candle run. Funding rows are not fills."""
    f = fills[(fills["side"] == side) & (fills["kind"] != KIND_FUNDING)]
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
    """The stats of one run (keys STAT_KEYS, all floats); definitions in the module docstring."""
    last_index = int(summary[S_LAST_INDEX])
    warmup = int(summary[S_WARMUP])
    days = max(last_index - warmup + 1, 1) / MINUTES_PER_DAY
    final_balance = float(fills["balance"][-1]) if len(fills) else float(starting_balance)
    final_equity = float(equity[-1, EQ_EQUITY]) if len(equity) else float(starting_balance)
    growth = final_equity / starting_balance
    liquidated = bool(summary[S_LIQUIDATED])
    traded = equity[warmup // EQUITY_EVERY:]  # the warm-up's flat samples are not returns
    rets = daily_returns(traded, last_index - warmup, include_partial=liquidated)
    kinds = fills["kind"]
    trades = fills[kinds != KIND_FUNDING]
    stuck_long = max_minutes_stuck(fills, LONG, last_index) / 60.0
    stuck_short = max_minutes_stuck(fills, SHORT, last_index) / 60.0
    paid, received = float(summary[S_FUNDING_PAID]), float(summary[S_FUNDING_RECEIVED])
    lost = float(summary[S_LIQ_MARGIN_LOST])
    stats = {
        "final_balance": final_balance,
        "final_equity": final_equity,
        "gain": growth - 1.0,
        "days": days,
        "average_daily_gain": (growth ** (1.0 / days) - 1.0) if growth > 0 else -1.0,
        "median_daily_gain": float(np.median(rets)) if len(rets) else 0.0,
        "max_drawdown": float(summary[S_MAX_DRAWDOWN]),
        "sharpe": sharpe_ratio(rets),
        "sortino": sortino_ratio(rets),
        "closest_liquidation_distance": float(min(1.0, summary[S_CLOSEST_LIQ])),
        "liquidated": float(summary[S_LIQUIDATED]),
        "max_hours_stuck": max(stuck_long, stuck_short),
        "max_hours_stuck_long": stuck_long,
        "max_hours_stuck_short": stuck_short,
        "n_fills": float(len(trades)),
        "n_entries": float(np.sum((kinds == KIND_INITIAL_ENTRY) | (kinds == KIND_REENTRY))),
        "n_closes": float(np.sum(kinds == KIND_CLOSE)),
        "n_liquidations": float(np.sum(kinds == KIND_LIQUIDATION)),
        "fills_per_day": len(trades) / days,
        "fees_paid": float(trades["fee"].sum()) - lost,
        "volume": float(np.sum(trades["qty"] * trades["price"])),
        "max_wallet_exposure_long": float(summary[S_MAX_WE_LONG]),
        "max_wallet_exposure_short": float(summary[S_MAX_WE_SHORT]),
        "funding_paid": paid,
        "funding_received": received,
        "funding_net": received - paid,
        "funding_modelled": 1.0 if summary[S_FUNDING_EVENTS] > 0 else 0.0,
        "n_margin_refused": float(summary[S_MARGIN_REFUSED]),
        "liquidation_margin_lost": lost,
        "n_unstuck_closes": float(np.sum(kinds == KIND_UNSTUCK_CLOSE)),
        "unstuck_loss": float(summary[S_UNSTUCK_LOSS_LONG] + summary[S_UNSTUCK_LOSS_SHORT]),
        "n_equity_stops": float(summary[S_STOPS]),
        "n_stop_closes": float(np.sum(kinds == KIND_STOP_CLOSE)),
    }
    return {k: _finite(stats[k]) for k in STAT_KEYS}
