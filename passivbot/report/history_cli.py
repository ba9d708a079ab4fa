"""The `--exchange` arguments of `python3 -m passivbot.report`: read the trade history into a
journal (report/exchange.py) before the report runs on it. Keys as start_bot reads them
(api-keys.json, user NAME; with `--emulator` and no `--api-keys`, placeholder keys)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import re
import sys
from pathlib import Path

from passivbot.errors import InputError

DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


def ymdhm(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def add_history_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("from the exchange's trade history (instead of a JOURNAL)")
    g.add_argument("--exchange", choices=("binance", "bybit"), help="read the trade history of")
    g.add_argument("--user", help="key pair name in api-keys.json; also live_settings/USER.json")
    g.add_argument("--since", help="first day (UTC), e.g. 2025-05-05 or 2025-05-05T12:00; "
                                   "pick a time the bot was flat")
    g.add_argument("--until", help="last moment (UTC, default: now)")
    g.add_argument("--config", help="live config of the session (default live_settings/USER.json)")
    g.add_argument("--symbol", help="override the config's symbol, e.g. ETHUSDT")
    g.add_argument("--api-keys", help="key file (default api-keys.json in the project root)")
    g.add_argument("--emulator", metavar="HOST:PORT", help="a local passivbot emulator (paper)")
    g.add_argument("--testnet", action="store_true", help="the exchange's official testnet")
    g.add_argument("--balance", type=float,
                   help="wallet balance at --since (default: inferred from the balance now "
                        "minus the history's PnL and fees)")


def parse_utc(text: str, option: str) -> int:
    """ms since the epoch of a UTC date or date-time; InputError naming the option."""
    for fmt in DATE_FORMATS:
        try:
            d = dt.datetime.strptime(text.strip(), fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
        if not 2017 <= d.year <= 2100:
            break
        return int(d.timestamp() * 1000)
    raise InputError(f"{option}: {text!r} is not a date like 2025-05-05 or 2025-05-05T12:00 "
                     "(UTC, years 2017-2100)")


def journal_from_history(args) -> Path:
    """Check the arguments, read the history, write the journal; its path."""
    from passivbot.config import PROJECT_ROOT, load_live_config
    from passivbot.config.keys import load_api_keys
    from passivbot.config.live import SYMBOL_PATTERN

    if not args.user or not args.since:
        raise InputError("--exchange needs --user NAME and --since DATE")
    since = parse_utc(args.since, "--since")
    until = parse_utc(args.until, "--until") if args.until else None
    if until is not None and until <= since:
        raise InputError(f"--until {args.until} must be after --since {args.since}")
    if args.balance is not None and not (0 < args.balance < 1e12):
        raise InputError(f"--balance must be a positive number of USDT, got {args.balance}")
    if args.emulator is not None and not re.fullmatch(r"[\w.\-]+:\d+",
                                                      args.emulator.split("://")[-1]):
        raise InputError(f"--emulator must be HOST:PORT, got {args.emulator!r}")
    if args.emulator is not None and not args.api_keys:
        key, secret = "paper-trading-key", "paper-trading-secret"
    else:
        keys = Path(args.api_keys) if args.api_keys else PROJECT_ROOT / "api-keys.json"
        key, secret, warnings = load_api_keys(keys, args.user, args.exchange)
        for w in warnings:
            print(w, file=sys.stderr)
    cfg = load_live_config(args.config or args.user)
    if args.symbol:
        if not re.fullmatch(SYMBOL_PATTERN, args.symbol):
            raise InputError(f"--symbol must look like ETHUSDT, got {args.symbol!r}")
        cfg = dataclasses.replace(cfg, symbol=args.symbol)
    mode = "paper" if args.emulator else "testnet" if args.testnet else "live"
    path = Path(args.out) / f"{args.exchange}-{args.user}-{cfg.symbol}-history.journal"
    path.unlink(missing_ok=True)  # a fresh journal: the history is read whole each time
    return asyncio.run(_read(args, cfg, key, secret, since, until, mode, path))


async def _read(args, cfg, key, secret, since, until, mode, path) -> Path:
    import ccxt

    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.exchanges.errors import Redactor, describe
    from passivbot.exchanges.registry import make_adapter
    from passivbot.report.exchange import history_journal

    redact = Redactor((key, secret))
    ex = create_exchange(args.exchange, api_key=key, secret=secret, emulator=args.emulator,
                         testnet=args.testnet)
    try:
        info = await history_journal(make_adapter(args.exchange, ex, cfg.symbol), cfg, since,
                                     until, path, mode, args.balance)
    except ccxt.BaseError as e:
        print(f"stopped: cannot read the trade history: {describe(e, redact)}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        await ex.close()
    print(f"trade history {args.exchange} {cfg.symbol} {ymdhm(info.since_ms)} .. "
          f"{ymdhm(info.until_ms)} UTC: {info.n_trades} fills -> {path}")
    if info.balance_inferred:
        print(f"note: starting balance {info.start_balance:,.4f} inferred (balance now minus "
              "the fills' PnL and fees and the funding read with them); --balance sets it")
    if not info.positions_match:
        print("warning: positions now (long {:g}, short {:g}) differ from the history replayed "
              "from flat (long {:g}, short {:g}): pick a --since when the bot was flat".format(
                  *info.exchange_positions, *info.end_positions))
    return path
