"""`downloader.py`: fill the cache for a date range (1m candles, funding history, 1h mark
prices, market spec), or import Binance archive zips.

Exit codes: 0 done, 1 some days could not be fetched (listed), 2 bad arguments or data error
(a message, no traceback), 130 interrupted (what was written stays written: rerun to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from passivbot.data.errors import DataError

EXIT_DATA_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="downloader.py",
        description="Download 1m candles into the per-day cache, with the funding history, "
                    "1h mark prices and the market spec beside them (resumable: rerun to "
                    "continue; extend --end-date to append), or import Binance public archive "
                    "zips.")
    p.add_argument("--exchange", choices=("binance", "bybit"), default="binance")
    p.add_argument("--symbol", help="exchange symbol id, e.g. ETHUSDT ([A-Z0-9]{2,20} then USDT "
                                    "or USDC)")
    p.add_argument("--start-date", help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--end-date", help="day after the last, YYYY-MM-DD (exclusive)")
    p.add_argument("--emulator", metavar="HOST:PORT", help="download from a local emulator")
    p.add_argument("--cache-dir", default="caches")
    p.add_argument("--import-archive", nargs="+", metavar="PATH",
                   help="Binance data.binance.vision USDT-M 1m kline zips to import (exchange "
                        "binance, symbol from the file names); no download")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    from passivbot.cli import check_output_dir

    check_output_dir(args.cache_dir, "--cache-dir")  # before any download (exit 2 if not usable)
    try:
        if args.import_archive:
            from passivbot.data.archive import import_archives

            print(import_archives(args.import_archive, cache_dir=args.cache_dir).format())
            return 0
        missing = [f for f in ("symbol", "start_date", "end_date") if not getattr(args, f)]
        if missing:
            parser.error("missing " + ", ".join("--" + f.replace("_", "-") for f in missing))
        from passivbot.data.fetch import download_range

        summary = asyncio.run(download_range(
            args.exchange, args.symbol, args.start_date, args.end_date,
            cache_dir=args.cache_dir, emulator=args.emulator, progress=not args.no_progress))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_DATA_ERROR
    print(summary.format())
    return 0 if summary.ok else 1
