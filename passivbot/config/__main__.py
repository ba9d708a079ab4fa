"""`python3 -m passivbot.config PATH [--root DIR] [--balance USDT --exchange NAME]`: validate a
live or backtest config and print it resolved with defaults (exit 0), or list every problem on
stderr (exit 2). Likely unit slips (a percent written where a ratio is meant) and first entries
below the exchange minimum are printed on stderr as `warning:` lines (still exit 0)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from passivbot.cli import run_cli
from passivbot.config.backtest import backtest_config_from_dict, backtest_config_to_dict
from passivbot.config.live import (
    live_config_from_dict, live_config_to_dict, missing_file_message, resolve_config_path,
)
from passivbot.config.sanity import config_warnings
from passivbot.config.schema import Collector, read_json
from passivbot.errors import MISSING

BACKTEST_MARKERS = ("exchange", "start_date")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python3 -m passivbot.config", description=__doc__)
    p.add_argument("path", help="config file, or a bare NAME from live_settings/")
    p.add_argument("--root", type=Path, default=None,
                   help="project root for NAME lookup and starting_configs (default: repo)")
    p.add_argument("--balance", type=float, default=None,
                   help="wallet balance (USDT) to check a live config's first entry against the "
                        "exchange minimum (a backtest config uses its starting_balance)")
    p.add_argument("--exchange", choices=("binance", "bybit"), default="binance",
                   help="exchange whose minimum order --balance is checked against")
    args = p.parse_args(argv)
    path = resolve_config_path(args.path, "live_settings", args.root)
    col = Collector(str(path))
    if not path.is_file():
        col.add("", MISSING, missing_file_message(path, args.path, "live_settings"))
    d = read_json(path, col) if not col.issues else None
    col.raise_if_any()
    found = [k for k in BACKTEST_MARKERS if isinstance(d, dict) and k in d]
    if found:
        print(f"# {path}: backtest config (has {found[0]!r})", file=sys.stderr)
        bt = backtest_config_from_dict(d, str(path), root=args.root)
        out = backtest_config_to_dict(bt)
        warnings = [f"{name}: {w}" for name, live in zip(bt.starting_config_paths,
                                                         bt.starting_configs)
                    for w in config_warnings(live, bt.starting_balance, bt.exchange)]
    else:
        print(f"# {path}: live config (no 'exchange' / 'start_date')", file=sys.stderr)
        live = live_config_from_dict(d, str(path))
        out = live_config_to_dict(live)
        warnings = config_warnings(live, args.balance,
                                   args.exchange if args.balance is not None else None)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    run_cli(main)
