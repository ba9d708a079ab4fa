"""One backtest of one live config: the function the CLI, the optimizer's best-config report and
the notebook share (configs and data in, engine arrays + stats out; no files written here)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from passivbot.backtest.engine import run_backtest
from passivbot.backtest.stats import compute_stats
from passivbot.config import BacktestConfig, LiveConfig, side_params
from passivbot.markets import market_spec


@dataclass(frozen=True)
class BacktestResult:
    """Everything a report needs. `candles_info`: exchange, symbol, data_source, synthetic
    (bool: not market data, reports must say so), first/last candle timestamps ms, n_candles."""

    fills: np.ndarray  # passivbot.records.fill_dt records, settlement order
    equity: np.ndarray  # (h, engine.EQ_COLS)
    summary: np.ndarray  # (engine.N_SUMMARY,)
    stats: dict[str, float]
    live_config: LiveConfig
    backtest_config: BacktestConfig
    candles_info: dict[str, Any] = field(default_factory=dict)
    candles: np.ndarray | None = field(default=None, repr=False, compare=False)


def load_backtest_candles(bt_cfg: BacktestConfig) -> np.ndarray:
    """Candles for bt_cfg's exchange, symbol, [start_date, end_date) and data source."""
    from passivbot.data import load_source  # data imports ccxt: only when candles are needed

    return load_source(bt_cfg.data_source, bt_cfg.exchange, bt_cfg.symbol, bt_cfg.start_date,
                       bt_cfg.end_date, seed=bt_cfg.synthetic_seed)


def with_overrides(bt_cfg: BacktestConfig, **overrides: Any) -> BacktestConfig:
    """bt_cfg with the non-None overrides (start_date, end_date, symbol, starting_balance)."""
    return replace(bt_cfg, **{k: v for k, v in overrides.items() if v is not None})


def backtest_live_config(
    live_cfg: LiveConfig,
    bt_cfg: BacktestConfig,
    candles: np.ndarray | None = None,
) -> BacktestResult:
    """Backtest `live_cfg` over `candles` (None: loaded per bt_cfg) with bt_cfg's balance and fees
    and the offline market spec of (bt_cfg.exchange, bt_cfg.symbol).

    The backtest config (or its --symbol override) names the market: the live config is
    traded on that symbol, and the result's live config carries it, so a report or best.json
    never pairs one symbol's strategy file with another symbol's candles."""
    if live_cfg.symbol != bt_cfg.symbol:
        live_cfg = replace(live_cfg, symbol=bt_cfg.symbol)
    if candles is None:
        candles = load_backtest_candles(bt_cfg)
    spec = market_spec(bt_cfg.exchange, bt_cfg.symbol)
    fills, equity, summary = run_backtest(
        candles, side_params(live_cfg.long), side_params(live_cfg.short), spec.market_array(),
        spec.brackets_array(), bt_cfg.starting_balance, bt_cfg.maker_fee, bt_cfg.taker_fee,
        spec.mmr_add,
    )
    stats = compute_stats(fills, equity, summary, candles, bt_cfg.starting_balance)
    info = {
        "exchange": bt_cfg.exchange,
        "symbol": live_cfg.symbol,
        "data_source": bt_cfg.data_source,
        "synthetic": bt_cfg.data_source == "synthetic",
        "first_ts": int(candles[0, 0]) if len(candles) else 0,
        "last_ts": int(candles[-1, 0]) if len(candles) else 0,
        "n_candles": int(len(candles)),
    }
    return BacktestResult(fills, equity, summary, stats, live_cfg, bt_cfg, info, candles)
