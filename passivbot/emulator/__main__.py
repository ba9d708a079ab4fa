"""Paper trading: `python3 -m passivbot.emulator --exchange binance --symbol ETHUSDT --port 8090`.

Serves the bundled candles (or --candles PATH: .npy, .csv or .csv.gz with columns timestamp ms,
open, high, low, close, volume; a header row is optional) in real time scaled by --speed, on
127.0.0.1 only. Point the bot at it with `--emulator 127.0.0.1:PORT`. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
from pathlib import Path

import numpy as np

from passivbot.emulator import Emulator


def load_candles(path: str | None, symbol: str) -> np.ndarray:
    """Candles float64 (n, 6) from a file, or the bundled sample of `symbol`."""
    if path is None:
        from passivbot.data.bundled import load_bundled
        return np.array(load_bundled(symbol))
    p = Path(path)
    if p.suffix == ".npy":
        return np.load(p).astype(np.float64)[:, :6]
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt") as f:
        first = f.readline()
        skip = 0 if first.split(",")[0].strip().replace(".", "").isdigit() else 1
    with opener(p, "rt") as f:
        arr = np.loadtxt(f, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2)
    return arr[:, :6]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python3 -m passivbot.emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exchange", choices=("binance", "bybit"), default="binance")
    ap.add_argument("--symbol", default="ETHUSDT")
    ap.add_argument("--host", default="127.0.0.1", help="127.0.0.1 only (kept for clarity)")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--speed", type=float, default=60.0, help="candles per minute of wall time")
    ap.add_argument("--starting-balance", type=float, default=10_000.0)
    ap.add_argument("--start-index", type=int, default=1440,
                    help="candles before this index are history; the clock starts here")
    ap.add_argument("--candles", default=None, help=".npy or .csv[.gz]; default: bundled")
    return ap.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    candles = load_candles(args.candles, args.symbol)
    emu = Emulator(args.exchange, args.symbol, candles, start_index=args.start_index,
                   starting_balance=args.starting_balance)
    url = await emu.start(host=args.host, port=args.port)
    print(f"{args.exchange} emulator for {args.symbol} at {url} (ccxt: --emulator "
          f"127.0.0.1:{emu.port}); {len(candles) - args.start_index} minutes at {args.speed}x; "
          "Ctrl-C to stop", flush=True)
    try:
        await emu.run_realtime(speed=args.speed)
        print("out of candles", flush=True)
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
