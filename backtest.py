#!/usr/bin/env python3
"""Backtest a live config: `python3 backtest.py backtest_configs/demo.json --live-config
live_settings/ETH-J1.json` (docs/backtest.md); without --live-config, optimize one:
`python3 backtest.py backtest_configs/demo.json` (docs/optimize.md)."""

from passivbot.cli import run_cli
from passivbot.optimize.cli import main

if __name__ == "__main__":
    run_cli(main)
