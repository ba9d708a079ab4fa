"""Many markets, one wallet: the multi-symbol backtest's Python side (inputs, the common minute
axis, stats per symbol and for the account). The replay itself is `multi_nb.run_multi_nb`.

The minute axis runs from the earliest first candle of any symbol to the latest last candle;
a symbol exists on it from its first to its last candle (markets that list later or whose data
ends earlier are handled as `multi_nb` documents). Inside its own span a symbol's candles must
be one minute apart (CandleGapError otherwise, as in the one-symbol engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from passivbot.backtest.account import (
    EQ_BALANCE, EQ_COLS, EQ_EQUITY, EQ_LIQ_PRICE, EQ_PPRICE_LONG, EQ_PPRICE_SHORT, EQ_PRICE,
    EQ_PSIZE_LONG, EQ_PSIZE_SHORT, EQ_TS, MINUTE_MS, S_FUNDING_PAID, S_FUNDING_RECEIVED,
    S_MARGIN_REFUSED, S_MAX_WE_LONG, S_MAX_WE_SHORT,
)
from passivbot.backtest.engine import CandleGapError, risk_args
from passivbot.backtest.multi_nb import (
    AE_BALANCE, AE_EQUITY, AE_LIQ_PRICE, AE_TS, SE_PPRICE_LONG, SE_PPRICE_SHORT, SE_PRICE,
    SE_PSIZE_LONG, SE_PSIZE_SHORT, run_multi_nb,
)
from passivbot.backtest.stats import compute_stats, max_minutes_stuck
from passivbot.risk import N_RISK_PARAMS, U_THRESHOLD
from passivbot.records import (
    BRACKET_COLS, KIND_CLOSE, KIND_FUNDING, LONG, N_MARKET, N_PARAMS, SHORT,
)
# the selection's cadence and window (defined with the kernel, which the live bot reads too)
from passivbot.selection import SELECT_EVERY as DEFAULT_SELECT_EVERY
from passivbot.selection import SELECT_WINDOW as DEFAULT_SELECT_WINDOW


@dataclass(frozen=True)
class SymbolInput:
    """One market of a multi-symbol replay: its candles (n, 6), both sides' parameter arrays
    (config.side_params), spec arrays (MarketSpec.market_array / brackets_array, mmr_add),
    funding events (times ms, rates, marks; empty: none), its EMA warm-up in candles, and its
    auto-unstuck parameters per side (risk.U_*, config.risk.unstuck_params; None: off)."""

    symbol: str
    candles: np.ndarray
    long_params: np.ndarray
    short_params: np.ndarray
    market: np.ndarray
    brackets: np.ndarray
    mmr_add: float = 0.0
    funding_times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    funding_rates: np.ndarray = field(default_factory=lambda: np.zeros(0))
    funding_marks: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warmup: int = 0
    long_risk: np.ndarray | None = None
    short_risk: np.ndarray | None = None


@dataclass(frozen=True)
class MultiResult:
    """Engine arrays of one multi-symbol replay. `fill_symbol[r]` is the index in `symbols` of
    fill row r; `equity` (h, AE_COLS) is the account's, `symbol_equity` (h, S, SE_COLS) each
    symbol's; `summary` the account's (engine.S_* layout), `symbol_summary` (S, N_SUMMARY)."""

    symbols: tuple[str, ...]
    fills: np.ndarray
    fill_symbol: np.ndarray
    equity: np.ndarray
    symbol_equity: np.ndarray
    summary: np.ndarray
    symbol_summary: np.ndarray
    axis_ts: np.ndarray
    first: np.ndarray
    last: np.ndarray


def _axis(inputs: Sequence[SymbolInput]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(candles (S, T, 6) NaN outside each span, axis open times ms, first, last)."""
    starts, ends = [], []
    for x in inputs:
        c = x.candles
        if c.ndim != 2 or c.shape[1] < 6 or len(c) == 0:
            raise ValueError(f"{x.symbol}: candles must be a non-empty (n, 6) array")
        d = np.diff(c[:, 0])
        bad = np.flatnonzero(d != MINUTE_MS)
        if len(bad):
            g = int(bad[0]) + 1
            raise CandleGapError(
                f"{x.symbol}: candles are not one minute apart: row {g - 1} is followed by row "
                f"{g} {(c[g, 0] - c[g - 1, 0]) / MINUTE_MS:g} minutes later (docs/backtest.md, "
                f"'Candles')")
        starts.append(int(c[0, 0]))
        ends.append(int(c[-1, 0]))
    t0 = min(starts)
    for x, s in zip(inputs, starts):
        if (s - t0) % MINUTE_MS:
            raise ValueError(f"{x.symbol}: candle times are not on the minute grid of the others")
    n = (max(ends) - t0) // MINUTE_MS + 1
    out = np.full((len(inputs), n, 6), np.nan)
    first = np.empty(len(inputs), np.int64)
    last = np.empty(len(inputs), np.int64)
    for k, (x, s) in enumerate(zip(inputs, starts)):
        a = (s - t0) // MINUTE_MS
        out[k, a:a + len(x.candles)] = x.candles[:, :6]
        first[k], last[k] = a, a + len(x.candles) - 1
    axis_ts = t0 + MINUTE_MS * np.arange(n, dtype=np.float64)
    return out, axis_ts, first, last


def run_multi_backtest(
    inputs: Sequence[SymbolInput],
    starting_balance: float,
    maker_fee: float,
    taker_fee: float,
    *,
    leverage: float = np.inf,
    n_positions: tuple[int, int] | None = None,
    select_every: int = DEFAULT_SELECT_EVERY,
    select_window: int = DEFAULT_SELECT_WINDOW,
    recompute_every_candle: bool = False,
    stop_params: np.ndarray | None = None,
) -> MultiResult:
    """One replay of several symbols on one wallet (`multi_nb` documents the rules).

    `n_positions` (long, short): at most that many symbols hold a position per side, chosen by
    `passivbot.selection` every `select_every` minutes over `select_window` candles; None (or
    >= the number of symbols): every symbol trades (no selection). The per-symbol wallet
    exposure limits are in the parameter arrays (config.multi sets them to the shared limit /
    n_positions). Bounded loss: each input's `long_risk`/`short_risk` (auto-unstuck per symbol)
    and `stop_params` (risk.S_*, config.risk.stop_params: the equity stop on the account's
    equity); None or zeros = off."""
    if not inputs:
        raise ValueError("no symbols")
    if select_every < 1 or select_window < 1:
        raise ValueError("select_every and select_window must be >= 1 minute")
    s = len(inputs)
    candles, axis_ts, first, last = _axis(inputs)
    params = np.empty((s, 2, N_PARAMS))
    market = np.empty((s, N_MARKET))
    nb = max(len(x.brackets) for x in inputs)
    brackets = np.empty((s, nb, BRACKET_COLS))
    n_br = np.empty(s, np.int64)
    for k, x in enumerate(inputs):
        params[k, 0], params[k, 1] = x.long_params, x.short_params
        market[k] = x.market
        b = np.asarray(x.brackets, np.float64)
        brackets[k, :len(b)] = b
        brackets[k, len(b):] = b[-1]
        n_br[k] = len(b)
    f_off = np.zeros(s + 1, np.int64)
    for k, x in enumerate(inputs):
        f_off[k + 1] = f_off[k] + len(x.funding_times)
    ft = np.concatenate([np.asarray(x.funding_times, np.int64) for x in inputs])
    fr = np.concatenate([np.asarray(x.funding_rates, np.float64) for x in inputs])
    fm = np.concatenate([np.asarray(x.funding_marks, np.float64) if len(x.funding_marks)
                         else np.full(len(x.funding_times), np.nan) for x in inputs])
    if not (len(ft) == len(fr) == len(fm)):
        raise ValueError("funding arrays differ in length")
    npos = np.array(n_positions if n_positions is not None else (s, s), np.int64)
    if (npos < 1).any():
        raise ValueError(f"n_positions must be >= 1, got {tuple(npos)}")
    unstuck, stop = _bounded_loss(inputs, stop_params)
    rows, rsym, eq, seq, asum, ssum = run_multi_nb(
        candles, axis_ts, first, last, params, market, brackets, n_br,
        np.array([float(x.mmr_add) for x in inputs]), float(starting_balance), float(maker_fee),
        float(taker_fee), bool(recompute_every_candle), float(leverage), ft, fr, fm, f_off,
        np.array([int(x.warmup) for x in inputs], np.int64), npos, int(select_every),
        int(select_window), unstuck, stop,
    )
    return MultiResult(tuple(x.symbol for x in inputs), rows, rsym, eq, seq, asum, ssum, axis_ts,
                       first, last)


def _bounded_loss(inputs: Sequence[SymbolInput],
                  stop_params: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(unstuck (S, 2, N_RISK_PARAMS) or None, stop (N_STOP_PARAMS,) or None): the one-symbol
    engine's checks per symbol, None when a rule is off everywhere (the kernel compiled without
    it)."""
    per, stop = [], None
    for x in inputs:
        u, stop = risk_args(x.long_risk, x.short_risk, stop_params)
        per.append(np.zeros((2, N_RISK_PARAMS)) if u is None else u)
    unstuck = np.stack(per) if any(a[:, U_THRESHOLD].max() > 0.0 for a in per) else None
    return unstuck, stop


def as_engine_equity(res: MultiResult, k: int = 0) -> np.ndarray:
    """The account equity in the one-symbol engine's (h, EQ_COLS) layout, symbol k's price and
    positions in its per-symbol columns (what the one-symbol stats and plots read)."""
    e = np.empty((len(res.equity), EQ_COLS))
    e[:, EQ_TS] = res.equity[:, AE_TS]
    e[:, EQ_BALANCE] = res.equity[:, AE_BALANCE]
    e[:, EQ_EQUITY] = res.equity[:, AE_EQUITY]
    e[:, EQ_LIQ_PRICE] = res.equity[:, AE_LIQ_PRICE]
    se = res.symbol_equity[:, k]
    e[:, EQ_PRICE] = se[:, SE_PRICE]
    e[:, EQ_PSIZE_LONG] = se[:, SE_PSIZE_LONG]
    e[:, EQ_PPRICE_LONG] = se[:, SE_PPRICE_LONG]
    e[:, EQ_PSIZE_SHORT] = se[:, SE_PSIZE_SHORT]
    e[:, EQ_PPRICE_SHORT] = se[:, SE_PPRICE_SHORT]
    return e


def symbol_stats(res: MultiResult, k: int) -> dict[str, float]:
    """One symbol's share of the account: realized pnl, fees, funding, fills, its max wallet
    exposure (vs the shared balance) and longest stuck spans."""
    f = res.fills[res.fill_symbol == k]
    trades = f[f["kind"] != KIND_FUNDING]
    ss = res.symbol_summary[k]
    last_index = int(min(res.summary[4], res.last[k]))  # S_LAST_INDEX on the axis
    return {
        "realized_pnl": float(trades["pnl"].sum()),
        "fees_paid": float(trades["fee"].sum()),
        "funding_net": float(ss[S_FUNDING_RECEIVED] - ss[S_FUNDING_PAID]),
        "n_fills": float(len(trades)),
        "n_closes": float(np.sum(trades["kind"] == KIND_CLOSE)),
        "volume": float(np.sum(trades["qty"] * trades["price"])),
        "max_wallet_exposure_long": float(ss[S_MAX_WE_LONG]),
        "max_wallet_exposure_short": float(ss[S_MAX_WE_SHORT]),
        "max_hours_stuck_long": max_minutes_stuck(f, LONG, last_index) / 60.0,
        "max_hours_stuck_short": max_minutes_stuck(f, SHORT, last_index) / 60.0,
        "n_margin_refused": float(ss[S_MARGIN_REFUSED]),
    }


def account_stats(res: MultiResult, starting_balance: float) -> dict[str, Any]:
    """The account's stats (compute_stats keys; `max_wallet_exposure_*` is the max over time of
    the SUM of the symbols' exposures; stuck hours are the worst symbol's) and per symbol."""
    st = compute_stats(res.fills, as_engine_equity(res), res.summary, None, starting_balance)
    per = {sym: symbol_stats(res, k) for k, sym in enumerate(res.symbols)}
    for side in ("long", "short"):
        st[f"max_hours_stuck_{side}"] = max(p[f"max_hours_stuck_{side}"] for p in per.values())
    st["max_hours_stuck"] = max(st["max_hours_stuck_long"], st["max_hours_stuck_short"])
    return {"account": st, "symbols": per}
