"""One backtest of a (multi-symbol) live config: configs and data in, engine arrays + stats out.

`python3 -m passivbot.backtest.multi_runner LIVE [BACKTEST] [--start D --end D]` writes the
result folder (`multi_report`) and prints the account's figures and one row per symbol (exit 2
on a bad config or missing data); `backtest.py BACKTEST -c LIVE` does the same for a
multi-symbol live config. The backtest
config supplies exchange, dates, data source, balance and fees; its `symbol` is ignored in
favour of the live config's `symbols` (a one-symbol live config trades its own symbol).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from passivbot.backtest.multi import (
    DEFAULT_SELECT_EVERY, DEFAULT_SELECT_WINDOW, MultiResult, SymbolInput, account_stats,
    run_multi_backtest,
)
from passivbot.backtest.runner import (
    NO_FUNDING, backtest_market_spec, load_backtest_candles, load_backtest_funding, warmup_for,
)
from passivbot.config import BacktestConfig, side_params
from passivbot.config.multi import MultiConfig
from passivbot.config.risk import stop_params, unstuck_params


@dataclass(frozen=True)
class MultiBacktest:
    result: MultiResult
    stats: dict[str, Any]  # {"account": {...}, "symbols": {SYMBOL: {...}}}
    config: MultiConfig
    backtest_config: BacktestConfig


def multi_inputs(cfg: MultiConfig, bt_cfg: BacktestConfig,
                 candles: dict[str, np.ndarray] | None = None,
                 funding: bool = True) -> list[SymbolInput]:
    """The engine inputs of every symbol of `cfg`: candles (given, or loaded per bt_cfg with
    its symbol replaced), the stored or bundled spec, funding (none when `funding` is False),
    and each symbol's EMA warm-up (runner.warmup_for over its own candles)."""
    out = []
    for sym in cfg.symbols:
        b = replace(bt_cfg, symbol=sym)
        c = candles[sym] if candles is not None else load_backtest_candles(b)
        spec = backtest_market_spec(b)
        f = load_backtest_funding(b, c) if funding else NO_FUNDING
        live = cfg.configs[sym]
        lp, sp = side_params(live.long), side_params(live.short)
        out.append(SymbolInput(sym, np.asarray(c, np.float64), lp, sp, spec.market_array(),
                               spec.brackets_array(), spec.mmr_add, f.times_ms, f.rates, f.mark,
                               warmup_for(lp, sp, len(c)), unstuck_params(live.long),
                               unstuck_params(live.short)))
    return out


def backtest_multi_config(cfg: MultiConfig, bt_cfg: BacktestConfig,
                          candles: dict[str, np.ndarray] | None = None, funding: bool = True,
                          select_every: int = DEFAULT_SELECT_EVERY,
                          select_window: int = DEFAULT_SELECT_WINDOW) -> MultiBacktest:
    """Backtest `cfg` on one wallet (bt_cfg's balance and fees, cfg's leverage), with its
    bounded-loss rules: auto-unstuck per symbol, the equity stop on the account's equity (its
    keys are the same for every symbol: overrides change only long/short keys)."""
    ins = multi_inputs(cfg, bt_cfg, candles, funding)
    n = cfg.n_positions if cfg.selecting else None
    res = run_multi_backtest(ins, bt_cfg.starting_balance, bt_cfg.maker_fee, bt_cfg.taker_fee,
                             leverage=cfg.leverage, n_positions=None if n is None else (n, n),
                             select_every=select_every, select_window=select_window,
                             stop_params=stop_params(cfg.configs[cfg.symbols[0]]))
    return MultiBacktest(res, account_stats(res, bt_cfg.starting_balance), cfg, bt_cfg)


def summary_lines(out: MultiBacktest) -> list[str]:
    """The console summary of a multi-symbol run: the account's gain, daily gain, drawdown,
    closest liquidation, stuck hours, fees and exposure, then one row per symbol
    (`multi_report.summary_table`)."""
    from passivbot.backtest.multi_report import summary_table

    return summary_table(out)


def main(argv: list[str]) -> int:
    import argparse

    from passivbot.config import load_backtest_config
    from passivbot.config.multi import load_multi_config

    p = argparse.ArgumentParser(prog="python3 -m passivbot.backtest.multi_runner",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("live_config", help="live config (one- or multi-symbol), NAME or path")
    p.add_argument("backtest_config", nargs="?", default="eth",
                   help="backtest config NAME or path (default: eth)")
    p.add_argument("--start", default=None, help="start date YYYY-MM-DD (override)")
    p.add_argument("--end", default=None, help="end date YYYY-MM-DD (override)")
    p.add_argument("--results", default="backtests", help="root folder of result folders")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    a = p.parse_args(argv)
    cfg = load_multi_config(a.live_config)
    from passivbot.backtest.cli import apply_overrides

    # the dates validated like the file's (a bad date: exit 2 naming it)
    bt = apply_overrides(load_backtest_config(a.backtest_config), argparse.Namespace(
        start_date=a.start, end_date=a.end, symbol=None, starting_balance=None))
    from passivbot.backtest.multi_report import run_and_report

    run_and_report(backtest_multi_config(cfg, bt), a.results, plots=not a.no_plots)
    return 0


if __name__ == "__main__":
    from passivbot.cli import run_cli

    run_cli(main)
