"""One backtest of one live config: the function the CLI, the optimizer's best-config report and
the notebook share (configs and data in, engine arrays + stats out; no files written here)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from passivbot.backtest.engine import run_backtest
from passivbot.backtest.stats import compute_stats
from passivbot.config import BacktestConfig, LiveConfig, side_params
from passivbot.config.risk import stop_params, unstuck_params
from passivbot.markets import market_spec
from passivbot.records import P_EMA_SPAN_0, P_EMA_SPAN_1, P_ENABLED

# The live bot warms its EMAs on up to this many times the largest span of history.
WARMUP_SPANS = 3
MINUTE_MS = 60_000


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


@dataclass(frozen=True)
class Funding:
    """Funding events for the engine: times ms int64 ascending, rates, mark (NaN: the candle's
    open) and where they came from ("bundled", "cache", or "none": no data, not modelled)."""

    times_ms: np.ndarray
    rates: np.ndarray
    mark: np.ndarray
    source: str


NO_FUNDING = Funding(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), "none")


def load_backtest_funding(bt_cfg: BacktestConfig, candles: np.ndarray) -> Funding:
    """The funding events over the candles' span for bt_cfg's exchange and symbol (none for
    synthetic candles: they are not a market)."""
    if bt_cfg.data_source == "synthetic" or len(candles) == 0:
        return NO_FUNDING
    try:
        from passivbot.data.perp import load_funding
    except ImportError:  # TODO(data): remove this fallback once passivbot.data.perp is merged
        return NO_FUNDING
    cache_dir = "caches" if bt_cfg.data_source == "cache" else None
    fs = load_funding(bt_cfg.exchange, bt_cfg.symbol, int(candles[0, 0]),
                      int(candles[-1, 0]) + MINUTE_MS, cache_dir=cache_dir)
    return Funding(np.asarray(fs.times_ms, np.int64), np.asarray(fs.rates, np.float64),
                   np.asarray(fs.mark, np.float64), str(fs.source))


def warmup_for(long_p: np.ndarray, short_p: np.ndarray, n_candles: int) -> int:
    """Candles that only warm the EMAs before trading: WARMUP_SPANS x the largest EMA span of an
    enabled side (parameter arrays), as the live bot warms on history, but at most half of the
    candles (the live bot, too, warms on what history there is: "up to")."""
    spans = [p[k] for p in (long_p, short_p) if p[P_ENABLED] != 0.0
             for k in (P_EMA_SPAN_0, P_EMA_SPAN_1)]
    want = int(np.ceil(WARMUP_SPANS * max(spans))) if spans else 0
    return max(0, min(want, n_candles // 2))


def warmup_candles(live_cfg: LiveConfig, n_candles: int) -> int:
    """warmup_for of a live config."""
    return warmup_for(side_params(live_cfg.long), side_params(live_cfg.short), n_candles)


def engine_kwargs(long_p: np.ndarray, short_p: np.ndarray, leverage: float, n_candles: int,
                  funding: Funding = NO_FUNDING, warmup: int | None = None) -> dict[str, Any]:
    """The keyword arguments of `engine.run_backtest` that make it account as the exchanges do
    (initial margin at `leverage`, funding, EMA warm-up): one place for every caller (this
    runner, the optimizer's evaluator), so a candidate scores as its report backtests."""
    return dict(leverage=float(leverage), funding_times=funding.times_ms,
                funding_rates=funding.rates, funding_marks=funding.mark,
                warmup=warmup_for(long_p, short_p, n_candles) if warmup is None else int(warmup))


def with_overrides(bt_cfg: BacktestConfig, **overrides: Any) -> BacktestConfig:
    """bt_cfg with the non-None overrides (start_date, end_date, symbol, starting_balance)."""
    return replace(bt_cfg, **{k: v for k, v in overrides.items() if v is not None})


def backtest_live_config(
    live_cfg: LiveConfig,
    bt_cfg: BacktestConfig,
    candles: np.ndarray | None = None,
    funding: Funding | None = None,
    warmup: int | None = None,
) -> BacktestResult:
    """Backtest `live_cfg` over `candles` (None: loaded per bt_cfg) with bt_cfg's balance and fees
    and the offline market spec of (bt_cfg.exchange, bt_cfg.symbol), the exchanges' accounting:
    funding (`funding` None: loaded for the candles' span; NO_FUNDING: none), initial margin at
    the live config's leverage, and an EMA warm-up (`warmup` None: `warmup_candles`).

    The backtest config (or its --symbol override) names the market: the live config is
    traded on that symbol, and the result's live config carries it, so a report or best.json
    never pairs one symbol's strategy file with another symbol's candles."""
    if live_cfg.symbol != bt_cfg.symbol:
        live_cfg = replace(live_cfg, symbol=bt_cfg.symbol)
    if candles is None:
        candles = load_backtest_candles(bt_cfg)
    spec = market_spec(bt_cfg.exchange, bt_cfg.symbol)
    if funding is None:
        funding = load_backtest_funding(bt_cfg, candles)
    lp, sp = side_params(live_cfg.long), side_params(live_cfg.short)
    kw = engine_kwargs(lp, sp, live_cfg.leverage, len(candles), funding, warmup)
    warmup = kw["warmup"]
    fills, equity, summary = run_backtest(
        candles, lp, sp, spec.market_array(), spec.brackets_array(), bt_cfg.starting_balance,
        bt_cfg.maker_fee, bt_cfg.taker_fee, spec.mmr_add, **kw,
        long_risk=unstuck_params(live_cfg.long), short_risk=unstuck_params(live_cfg.short),
        stop_params=stop_params(live_cfg),
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
        "warmup_candles": int(warmup),
        "funding_source": funding.source,
        "funding_events": int(len(funding.times_ms)),
        "leverage": float(live_cfg.leverage),
    }
    return BacktestResult(fills, equity, summary, stats, live_cfg, bt_cfg, info, candles)
