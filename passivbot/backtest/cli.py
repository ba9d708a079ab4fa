"""`python3 backtest.py BACKTEST_CONFIG [--live-config PATH] [overrides]`: one backtest, the
summary table on the console and the result folder's path. Config mistakes exit 2 (run_cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from passivbot.config import (
    ConfigError, ConfigIssue, backtest_config_from_dict, backtest_config_to_dict, load_backtest_config,
    load_live_config,
)
from passivbot.config.live import PROJECT_ROOT


def _optimizer_cli():
    """The optimizer's CLI module (it owns the no-`--live-config` path: `add_arguments(parser)`
    and `optimize_from_backtest_cli(bt_cfg, args)`), or None while it is unavailable."""
    try:
        from passivbot.optimize import cli as optimize_cli
    except ImportError:
        return None
    needed = ("add_arguments", "optimize_from_backtest_cli")
    return optimize_cli if all(hasattr(optimize_cli, n) for n in needed) else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="backtest.py",
        description="Backtest a live config over 1m candles (--live-config), writing backtests/... "
                    "with stats, fills and plots; without --live-config, optimize one.",
    )
    p.add_argument("backtest_config", nargs="?", help="backtest_configs/NAME.json or NAME")
    p.add_argument("--live-config", "-c", help="live config to backtest (live_settings/NAME.json "
                   "or NAME); without it the optimizer runs (see docs/optimize.md)")
    p.add_argument("--start-date", help="override start_date (YYYY-MM-DD, inclusive)")
    p.add_argument("--end-date", help="override end_date (YYYY-MM-DD, exclusive)")
    p.add_argument("--symbol", help="override the symbol (backtest config and live config)")
    p.add_argument("--starting-balance", type=float, help="override starting_balance (quote)")
    p.add_argument("--results", default="backtests", help="root folder of result folders")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    opt = _optimizer_cli()
    if opt is not None:
        opt.add_arguments(p)
    return p


def apply_overrides(bt_cfg, args: argparse.Namespace):
    """bt_cfg with the CLI overrides, validated again like the file (ConfigError if bad)."""
    over = {"start_date": args.start_date, "end_date": args.end_date, "symbol": args.symbol,
            "starting_balance": args.starting_balance}
    over = {k: v for k, v in over.items() if v is not None}
    if not over:
        return bt_cfg
    d = backtest_config_to_dict(bt_cfg)
    d.update(over)
    return backtest_config_from_dict(d, f"{bt_cfg.source} (with command-line overrides)",
                                     root=PROJECT_ROOT)


def main(argv: list[str]) -> int:
    from dataclasses import replace

    from passivbot.backtest.report import summary_table, write_report
    from passivbot.backtest.runner import backtest_live_config
    from passivbot.data import DataError

    args = build_parser().parse_args(argv)
    bt_cfg = None
    if args.backtest_config:
        bt_cfg = apply_overrides(load_backtest_config(args.backtest_config), args)
    if args.live_config is None:
        # HOOK (optimizer): without --live-config backtest.py runs the optimizer, whose CLI owns
        # this path (bt_cfg is None with --resume RUN_DIR). Without the optimizer, backtest the
        # backtest config's first starting config.
        opt = _optimizer_cli()
        if opt is not None:
            return opt.optimize_from_backtest_cli(bt_cfg, args)
    if bt_cfg is None:
        raise SystemExit("backtest.py: a backtest config is required (see --help)")
    if args.live_config is None:
        live_cfg = bt_cfg.starting_configs[0]
    else:
        live_cfg = load_live_config(args.live_config)
    if args.symbol:
        live_cfg = replace(live_cfg, symbol=args.symbol)
    try:
        result = backtest_live_config(live_cfg, bt_cfg)
    except DataError as e:  # candles unavailable for these dates/source: fix the config, exit 2
        raise ConfigError([ConfigIssue(bt_cfg.source, "", None, str(e))]) from None
    except KeyError as e:  # no offline market spec for the exchange/symbol
        raise ConfigError([ConfigIssue(bt_cfg.source, "symbol", live_cfg.symbol, e.args[0])]) from None
    path = write_report(result, root=args.results, plots=not args.no_plots)
    print(summary_table(result))
    print(f"results: {Path(path)}")
    return 0
