"""Many markets, one wallet: multi-symbol backtest vs the live MultiBot on the multi-symbol
emulator, fill by fill, Binance and Bybit (harness/parity_multi.py).

Default: 4 bundled symbols (ETHUSDT BTCUSDT SOLUSDT XRPUSDT) on their common minutes, 7 days from
day 2, ETH-J1 made busy on every symbol (harness.parity.BUSY_OVERRIDES), shared wallet exposure
limit 1.2 per side, n_positions 2 (the selection picks 2 of the 4 per side every 60 minutes
over 1440 candles, on both sides alike), funding charged where the bundled sample has it.
Bybit's bundled specs cover ETHUSDT and BTCUSDT only: its run serves the Binance spec of the
other symbols over the Bybit protocol (same arrays to both sides).

`--config bounded-loss`: the same plus the account's bounded loss
(`harness.parity_multi.bounded_loss_multi_dict`: unstuck above 0.15 x the limit on every
symbol side, the equity stop at 0.6 % of the ACCOUNT's equity with a 60-minute pause); its
unstuck and stop closes compare as closes (the exchange sees reduce-only orders). E.g.
`--config bounded-loss --symbols ETHUSDT BTCUSDT --start-day 2 --days 1 --n-positions 0`.

`--time-limit S` bounds each live run; a run stopped there is compared over the minutes it
reached, and the line says how many days that was and the rate.

Run: python3 bench/parity_multi.py [--days 7] [--start-day 2] [--realism minute|full]
     [--exchanges binance bybit] [--symbols ...] [--n-positions 2] [--time-limit 1800]
     [--config busy|bounded-loss]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_one(exchange: str, args: argparse.Namespace) -> list[str]:
    from harness.parity_multi import (
        bounded_loss_multi_dict, busy_multi_dict, load_aligned, run_parity_multi, summary_lines,
    )
    from passivbot.config.multi import multi_config_from_dict

    bounded = args.config == "bounded-loss"
    n = args.n_positions or None
    d = bounded_loss_multi_dict(args.symbols, n_positions=n) if bounded else \
        busy_multi_dict(args.symbols, n)
    cfg = multi_config_from_dict(d, f"bench parity_multi ({args.config})")
    candles = load_aligned(args.symbols, args.start_day, args.days)
    t0 = time.perf_counter()
    rep = asyncio.run(run_parity_multi(cfg, candles, exchange, realism=args.realism,
                                       time_limit_s=args.time_limit, bounded_loss=bounded))
    wall = time.perf_counter() - t0
    days = (rep.n_candles - 1) / 1440
    lines = summary_lines(rep)
    tag = f"parity_multi_{exchange}_{args.realism}"
    lines += [f"{tag}_days: {days:.2f} days x {len(args.symbols)} symbols (target >= 7)",
              f"{tag}_fill_match: {rep.match_rate:.1f} % of {rep.total} fills (target 100)",
              f"{tag}_balance_diff: {abs(rep.balance_diff):.2e} USDT (target <= 1e-06)",
              *([f"{tag}_bounded_loss: {rep.backtest.n_unstuck} unstuck closes, "
                 f"{rep.backtest.n_stop} stop closes in the backtest (target >= 1 each); "
                 f"account stop fired backtest {rep.backtest.stops_fired} live "
                 f"{rep.live.stops_fired} (target equal)"] if bounded else []),
              f"{tag}_rate: {rep.n_candles * len(args.symbols) / max(rep.live.seconds, 1e-9):.0f}"
              f" symbol-minutes/s ({wall:.0f} s wall in all)"]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--start-day", type=float, default=2.0)
    ap.add_argument("--realism", choices=("minute", "full"), default="minute")
    ap.add_argument("--exchanges", nargs="+", default=["binance", "bybit"])
    ap.add_argument("--symbols", nargs="+", default=["ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT"])
    ap.add_argument("--n-positions", type=int, default=2, help="0: every symbol (no selection)")
    ap.add_argument("--config", choices=("busy", "bounded-loss"), default="busy")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per live run")
    args = ap.parse_args()
    ok = True
    for ex in args.exchanges:
        lines = run_one(ex, args)
        print("\n".join(lines), flush=True)
        ok = ok and any("(100.0 %)" in x for x in lines[:1])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
