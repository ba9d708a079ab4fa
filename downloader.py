#!/usr/bin/env python3
"""Download 1m candles (with funding history, 1h mark prices and the market spec) into caches/
by date range, or import Binance archive zips.

    python3 downloader.py --exchange binance --symbol ETHUSDT --start-date 2024-01-01 --end-date 2024-03-01
    python3 downloader.py --import-archive ETHUSDT-1m-2024-01.zip ETHUSDT-1m-2024-02.zip

See docs/data.md.
"""

from passivbot.cli import run_cli
from passivbot.data.cli import main

if __name__ == "__main__":
    run_cli(main)
