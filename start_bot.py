#!/usr/bin/env python3
"""Run the live bot: `python3 start_bot.py {binance|bybit} USER [options]` (see docs/live.md)."""

from passivbot.cli import run_cli
from passivbot.live.main import main

if __name__ == "__main__":
    run_cli(main)
