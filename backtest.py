#!/usr/bin/env python3
"""Backtest a live config: `python3 backtest.py backtest_configs/eth.json --live-config
live_settings/ETH-J1.json`. See docs/backtest.md."""

from passivbot.backtest.cli import main
from passivbot.cli import run_cli

if __name__ == "__main__":
    run_cli(main)
