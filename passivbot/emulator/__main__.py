"""Paper trading: `python3 -m passivbot.emulator --exchange binance --symbol ETHUSDT --port 8090`.

Several symbols on one account (one wallet, cross margin): `--symbol ETHUSDT BTCUSDT SOLUSDT`
serves their bundled candles on their common minutes (a multi-symbol live config trades it).

Serves the bundled candles (or --candles PATH: .npy, .csv or .csv.gz with columns timestamp ms,
open, high, low, close, volume; a header row is optional) in real time scaled by --speed, on
127.0.0.1 only. Point the bot at it with `--emulator 127.0.0.1:PORT`. Stop with Ctrl-C.
Funding (--funding on, the default) is charged at the symbol's funding times over the candles'
span as the backtest charges it: from the downloader's cache (caches/) or the bundled sample.
At the end of the candles it prints a summary and exits (--at-end exit, the default) or keeps
answering with the clock stopped until Ctrl-C (--at-end serve). Mistakes in the arguments or
the candles file are a message and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import math
import sys
from pathlib import Path

import numpy as np

from passivbot.cli import run_cli
from passivbot.emulator.server import ALLOWED_HOSTS
from passivbot.errors import InputError


def load_candles(path: str | None, symbol: str) -> np.ndarray:
    """Candles float64 (n, 6) from a file, or the bundled sample of `symbol`; InputError names
    the file and what is wrong with it."""
    if path is None:
        from passivbot.data.bundled import load_bundled
        try:
            return np.array(load_bundled(symbol))
        except KeyError as e:
            raise InputError(f"--symbol {symbol}: {e.args[0]}; give --candles PATH") from None
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--candles {path}: no such file")
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False).astype(np.float64)
        else:
            opener = gzip.open if p.suffix == ".gz" else open
            with opener(p, "rt") as f:
                first = f.readline()
                skip = 0 if first.split(",")[0].strip().replace(".", "").isdigit() else 1
            with opener(p, "rt") as f:
                arr = np.loadtxt(f, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as e:
        raise InputError(f"--candles {path}: not a candles file (.npy, .csv, .csv.gz with "
                         f"timestamp,open,high,low,close,volume): {e}") from None
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise InputError(f"--candles {path}: needs 6 columns (timestamp ms, open, high, low, "
                         f"close, volume), got shape {arr.shape}")
    arr = arr[:, :6]
    if not np.isfinite(arr).all() or (arr[:, 1:5] <= 0).any():
        raise InputError(f"--candles {path}: prices must be finite and > 0")
    if len(arr) > 1 and (np.diff(arr[:, 0]) <= 0).any():
        raise InputError(f"--candles {path}: timestamps must increase")
    return arr


def positive(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (x > 0 and math.isfinite(x)):
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text}")
    return x


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python3 -m passivbot.emulator", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exchange", choices=("binance", "bybit"), default="binance")
    ap.add_argument("--symbol", nargs="+", default=["ETHUSDT"],
                    help="one symbol, or several on one account (bundled candles only)")
    ap.add_argument("--host", default="127.0.0.1", help="127.0.0.1 or localhost only")
    ap.add_argument("--port", type=int, default=8090, help="0: any free port")
    ap.add_argument("--speed", type=positive, default=60.0,
                    help="candles per minute of wall time (> 0)")
    ap.add_argument("--starting-balance", type=positive, default=1_000.0,
                    help="USDT (the backtest's default too)")
    ap.add_argument("--start-index", type=int, default=1440,
                    help="candles before this index are history; the clock starts here")
    ap.add_argument("--candles", default=None, help=".npy or .csv[.gz]; default: bundled")
    ap.add_argument("--realism", choices=("full", "minute"), default="full",
                    help="full: intra-minute price path, spread, venue limits (default); "
                         "minute: one kline a minute (faster, kinder)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the price paths and partial fills")
    ap.add_argument("--funding", choices=("on", "off"), default="on",
                    help="on: settle the symbol's funding events (caches/ or bundled; none "
                         "known: none charged, said at start); off: no funding")
    ap.add_argument("--at-end", choices=("exit", "serve"), default="exit",
                    help="out of candles: print the summary and exit, or keep answering "
                         "(clock stopped) until Ctrl-C")
    args = ap.parse_args(argv)
    args.symbols = list(args.symbol)
    args.symbol = args.symbols[0]
    return args


def check(args: argparse.Namespace) -> np.ndarray:
    """Everything the run needs, checked before binding: the candles (InputError otherwise)."""
    from passivbot.markets import market_spec

    if args.host not in ALLOWED_HOSTS:
        raise InputError(f"--host {args.host}: the emulator binds 127.0.0.1 only "
                         "(it is a local test exchange, never exposed)")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0..65535")
    if len(set(args.symbols)) != len(args.symbols):
        raise InputError(f"--symbol {' '.join(args.symbols)}: a symbol is listed twice")
    for sym in args.symbols:
        try:
            market_spec(args.exchange, sym)
        except KeyError as e:
            raise InputError(f"--symbol {sym}: {e.args[0]}") from None
    if len(args.symbols) > 1:
        if args.candles is not None:
            raise InputError(f"--candles {args.candles}: one file is one symbol's candles; "
                             "with several --symbol the bundled samples are served")
        from passivbot.emulator.wallet import align_candles

        try:
            candles = align_candles([load_candles(None, s) for s in args.symbols])
        except ValueError as e:
            raise InputError(f"--symbol {' '.join(args.symbols)}: {e}") from None
        n = len(candles[0])
        if not 1 <= args.start_index < n:
            raise InputError(f"bundled {'+'.join(args.symbols)}: {n} common minutes; "
                             f"--start-index {args.start_index} needs 1 <= start-index < {n}")
        return candles
    candles = load_candles(args.candles, args.symbol)
    source = args.candles or f"bundled {args.symbol}"
    if not 1 <= args.start_index < len(candles):
        raise InputError(f"{source}: {len(candles)} candles; --start-index {args.start_index} "
                         f"needs 1 <= start-index < {len(candles)} (history before it, at least "
                         "one candle to serve)")
    return candles


def summary(emu, minutes: int) -> str:
    """What a paper session did, in a trader's words."""
    from passivbot.records import LONG, SHORT

    books = list(emu.accounts.values())
    acc = emu.account
    fills = [f for b in books for f in b.fills]
    taker = sum(1 for f in fills if f["taker"])
    start = emu.starting_balance
    pnl = acc.balance - start
    pos = "; ".join((f"{b.spec.symbol} " if len(books) > 1 else "") + ", ".join(
        f"{n} {b.positions[s].size:g} @ {b.positions[s].price:g}"
        for n, s in (("long", LONG), ("short", SHORT))) for b in books)
    funding_paid = [x for b in books for x in b.funding_paid]
    c = emu.counters
    return (f"out of candles after {minutes} minutes: {len(fills)} fills ({len(fills) - taker} "
            f"maker, {taker} taker); wallet balance {acc.balance:.2f} USDT (start {start:.2f}, "
            f"{pnl:+.2f}), unrealized {acc.upnl():+.2f}; positions {pos}; "
            f"{sum(len(b.open_orders) for b in books)} open orders; orders created "
            f"{c['orders_created']}, cancelled {c['orders_cancelled']}, rejected "
            f"{c['orders_rejected']}; funding {-sum(p for _, _, p in funding_paid):+.2f} USDT "
            f"over {len(funding_paid)} charges")


def load_emulator_funding(args: argparse.Namespace, candles: np.ndarray):
    """The symbol's funding events over the candles' span (`data.perp.load_funding`: the
    downloader's cache under caches/, else the bundled sample), or None with --funding off."""
    if args.funding == "off":
        return None
    from passivbot.data.perp import load_funding

    if len(args.symbols) > 1:
        return [load_funding(args.exchange, s, int(c[0, 0]), int(c[-1, 0]) + 60_000,
                             cache_dir="caches") for s, c in zip(args.symbols, candles)]
    return load_funding(args.exchange, args.symbol, int(candles[0, 0]),
                        int(candles[-1, 0]) + 60_000, cache_dir="caches")


async def serve(args: argparse.Namespace, candles: np.ndarray) -> int:
    from passivbot.emulator import Emulator
    from passivbot.emulator.path import Realism

    realism = Realism(seed=args.seed) if args.realism == "full" else "minute"
    funding = load_emulator_funding(args, candles)
    multi = len(args.symbols) > 1
    emu = Emulator(args.exchange, args.symbols if multi else args.symbol, candles,
                   start_index=args.start_index,
                   starting_balance=args.starting_balance, realism=realism, funding=funding)
    try:
        url = await emu.start(host=args.host, port=args.port)
    except OSError as e:
        raise InputError(f"--port {args.port}: cannot listen on 127.0.0.1 ({e.strerror})") \
            from None
    n = len(candles[0] if multi else candles) - args.start_index
    print(f"{args.exchange} emulator for {', '.join(args.symbols)} at {url} (ccxt: --emulator "
          f"127.0.0.1:{emu.port}); {n} minutes at {args.speed:g}x, realism {args.realism}; "
          f"funding {_funding_words(funding)}; Ctrl-C to stop", flush=True)
    try:
        await emu.run_realtime(speed=args.speed)
        print(summary(emu, emu.clock - args.start_index), flush=True)
        if args.at_end == "serve" and emu.clock >= len(emu.candles):
            emu.out_of_candles = True
            print("serving with the clock stopped at the last candle; Ctrl-C to stop",
                  flush=True)
            await emu._stopped.wait()
    finally:
        await emu.stop()
    return 0


def _funding_words(funding) -> str:
    if funding is None:
        return "off"
    if isinstance(funding, list):
        return ", ".join(_funding_words(f) for f in funding)
    return f"{len(funding)} events ({funding.source})" if len(funding) else "none known"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    candles = check(args)
    try:
        return asyncio.run(serve(args, candles))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0


if __name__ == "__main__":
    run_cli(main)
