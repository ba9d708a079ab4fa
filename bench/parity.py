"""Backtest vs live parity over 30 days of bundled ETHUSDT, Binance and Bybit.

For each exchange (one process each, in parallel): the backtester's fills, then the real live
bot (real ccxt) trading the emulator in lockstep over the same candles (passivbot.parity),
compared fill by fill (minute, side, kind, price, qty), plus final balance and positions.
Every mismatch is listed with its minute.

Lockstep through ccxt costs ~15 ms an emulated minute (a cancel and a create each minute
while a side is flat: its initial entry follows the EMAs), so 30 days is ~11 minutes per
exchange. `--time-limit` bounds each live run; a run stopped there is compared over the
candles it reached, and the line says how many days that was.

`--realism full` (default) runs the emulator's realistic mode (intra-minute path at 8 points a
minute, one-tick book, PostOnly against it, partial fills, venue limits); `--realism minute`
the older one-kline-a-minute emulator.

Run: python3 bench/parity.py [--days 30] [--time-limit 780] [--realism full|minute]
     [--exchanges binance bybit]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAY = 1440


def one(exchange: str, days: float, time_limit: float, realism: str) -> tuple[list[str], dict]:
    import numpy as np

    from passivbot.data.bundled import load_bundled
    from passivbot.parity import busy_config, run_parity, summary_lines

    candles = np.array(load_bundled("ETHUSDT")[: int(days * DAY)])
    t0 = time.perf_counter()
    last = [t0]

    def progress(i: int, n: int) -> None:
        if time.perf_counter() - last[0] > 60:
            last[0] = time.perf_counter()
            print(f"  {exchange}: minute {i}/{n} after {last[0] - t0:.0f} s", file=sys.stderr,
                  flush=True)

    rep = asyncio.run(run_parity(busy_config(), candles, exchange, progress=progress,
                                 time_limit_s=time_limit, realism=realism))
    fig = {"rate": rep.match_rate, "ok": rep.ok, "days": rep.n_candles / DAY,
           "seconds": time.perf_counter() - t0, "fills": len(rep.backtest.fills),
           "minutes_per_s": rep.n_candles / max(rep.live.seconds, 1e-9),
           "balance_diff": rep.balance_diff}
    return summary_lines(rep), fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--time-limit", type=float, default=780.0,
                    help="seconds per exchange's live run (they run in parallel)")
    ap.add_argument("--exchanges", nargs="+", default=["binance", "bybit"])
    ap.add_argument("--realism", choices=("full", "minute"), default="full")
    args = ap.parse_args()
    print(f"realism: {args.realism}")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=len(args.exchanges)) as pool:
        futs = {ex: pool.submit(one, ex, args.days, args.time_limit, args.realism)
                for ex in args.exchanges}
        results = {ex: f.result() for ex, f in futs.items()}
    ok = True
    for ex, (lines, _) in results.items():
        print("\n".join(lines))
    for ex, (_, fig) in results.items():
        ok &= fig["ok"]
        print(f"parity_days_{ex}: {fig['days']:.2f} days (target {args.days:g})")
        print(f"parity_fills_{ex}: {fig['fills']} fills")
        print(f"parity_lockstep_speed_{ex}: {fig['minutes_per_s']:.0f} minutes/s")
        print(f"parity_match_{ex}: {fig['rate']:.1f} % (target 100)")
        print(f"parity_balance_diff_{ex}: {fig['balance_diff']:.6f} USDT (target 0)")
    print(f"parity_total_time: {time.perf_counter() - t0:.0f} s (target < 900)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
