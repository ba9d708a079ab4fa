"""One backtest from the command line: `python3 backtest.py BACKTEST_CONFIG --live-config PATH
[overrides]` prints the summary table and the result folder's path. Config mistakes exit 2
(run_cli).

backtest.py's command line is passivbot.optimize.cli, which adds the optimizer's options to
this parser and calls `run` when --live-config is given; this module knows nothing of the
optimizer (one direction: optimize knows backtest)."""

from __future__ import annotations

import argparse
from pathlib import Path

from passivbot.config import (
    BacktestConfig, ConfigError, ConfigIssue, backtest_config_from_dict, backtest_config_to_dict,
    load_backtest_config, load_live_config,
)
from passivbot.config.live import PROJECT_ROOT


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The backtest's positional argument and options (shared with the optimizer's CLI)."""
    p.add_argument("backtest_config", nargs="?", help="backtest_configs/NAME.json or NAME")
    p.add_argument("--live-config", "-c", help="live config to backtest (live_settings/NAME.json "
                   "or NAME)")
    p.add_argument("--start-date", help="override start_date (YYYY-MM-DD, inclusive)")
    p.add_argument("--end-date", help="override end_date (YYYY-MM-DD, exclusive)")
    p.add_argument("--symbol", help="override the symbol (backtest config and live config; "
                   "replaces a `symbols` list)")
    p.add_argument("--starting-balance", type=float, help="override starting_balance (quote)")
    p.add_argument("--results", default="backtests", help="root folder of result folders")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def build_parser(prog: str = "backtest.py") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="Backtest a live config over 1m candles, writing backtests/... "
                               "with stats, fills and plots.")
    add_arguments(p)
    return p


def apply_overrides(bt_cfg: BacktestConfig, args: argparse.Namespace) -> BacktestConfig:
    """bt_cfg with the CLI overrides, validated again like the file (ConfigError if bad)."""
    over = {"start_date": args.start_date, "end_date": args.end_date, "symbol": args.symbol,
            "starting_balance": args.starting_balance}
    over = {k: v for k, v in over.items() if v is not None}
    if not over:
        return bt_cfg
    d = backtest_config_to_dict(bt_cfg)
    d.update(over)
    if args.symbol:
        d.pop("symbols", None)
    return backtest_config_from_dict(d, f"{bt_cfg.source} (with command-line overrides)",
                                     root=PROJECT_ROOT)


def load_from_args(args: argparse.Namespace) -> BacktestConfig | None:
    """The backtest config named on the command line with its overrides, or None."""
    if not args.backtest_config:
        return None
    return apply_overrides(load_backtest_config(args.backtest_config), args)


def _multi_symbol_config(name_or_path: str):
    """The live config as a MultiConfig when it names several symbols, else None (a
    one-symbol config keeps the one-symbol engine and its report folder)."""
    from passivbot.config.multi import load_multi_config

    cfg = load_multi_config(name_or_path)
    return cfg if len(cfg.symbols) > 1 else None


def run(args: argparse.Namespace, bt_cfg: BacktestConfig | None = None) -> int:
    """Backtest --live-config (or, without it, the backtest config's first starting config)
    over the backtest config's first symbol; write the report folder."""
    from dataclasses import replace

    from passivbot.backtest.report import summary_table, write_report
    from passivbot.backtest.runner import backtest_live_config
    from passivbot.data import DataError

    bt_cfg = bt_cfg or load_from_args(args)
    if bt_cfg is None:
        raise SystemExit("backtest.py: a backtest config is required (see --help)")
    if args.live_config is None:
        if not bt_cfg.starting_configs:
            raise ConfigError([ConfigIssue(bt_cfg.source, "starting_configs", None,
                                           "empty: give --live-config")])
        live_cfg = bt_cfg.starting_configs[0]
    else:
        multi = _multi_symbol_config(args.live_config)
        if multi is not None and not args.symbol:
            from passivbot.backtest.multi_report import run_and_report
            from passivbot.backtest.multi_runner import backtest_multi_config

            run_and_report(backtest_multi_config(multi, bt_cfg), args.results,
                           plots=not args.no_plots)
            return 0
        live_cfg = load_live_config(args.live_config)
    if args.symbol:
        live_cfg = replace(live_cfg, symbol=args.symbol)
    try:
        result = backtest_live_config(live_cfg, bt_cfg)
    except DataError as e:  # candles unavailable for these dates/source: fix the config, exit 2
        raise ConfigError([ConfigIssue(bt_cfg.source, "", None, str(e))]) from None
    except KeyError as e:  # no offline market spec for the exchange/symbol
        raise ConfigError([ConfigIssue(bt_cfg.source, "symbol", bt_cfg.symbol,
                                       e.args[0])]) from None
    path = write_report(result, root=args.results, plots=not args.no_plots)
    print(summary_table(result))
    print(f"results: {Path(path)}")
    return 0


def main(argv: list[str]) -> int:
    """A single backtest: `BACKTEST_CONFIG [--live-config PATH] [overrides]`."""
    return run(build_parser().parse_args(argv))
