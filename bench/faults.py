"""Fault campaign over a longer lockstep run: every fault the emulator offers, `--rounds` times
each, at seeded random minutes, on Binance and Bybit (passivbot.fault_campaign). Prints each
fault with its convergence time, then the figures.

Run: python3 bench/faults.py --seed N [--rounds 2] [--minutes 240] [--exchanges binance bybit]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import numpy as np

    from passivbot.data.bundled import load_bundled
    from passivbot.fault_campaign import report_lines, run_campaign
    from passivbot.parity import busy_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2, help="times each fault is injected")
    ap.add_argument("--minutes", type=int, default=240, help="lockstep minutes per exchange")
    ap.add_argument("--exchanges", nargs="+", default=["binance", "bybit"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    candles = np.array(load_bundled("ETHUSDT")[: args.minutes + 5])
    reports = []
    for ex in args.exchanges:
        rep = asyncio.run(run_campaign(ex, busy_config(), candles, args.seed, args.minutes,
                                       rounds=args.rounds))
        print("\n".join(report_lines(rep)), flush=True)
        reports.append(rep)
    tried = sum(len(r.results) for r in reports)
    survived = sum(r.survived for r in reports)
    worst = max(r.worst_s for r in reports)
    dups = sum(r.duplicates for r in reports)
    orphans = sum(x.orphans for r in reports for x in r.results)
    print(f"faults_tried: {tried}")
    print(f"faults_survived: {survived}/{tried} (target {tried}/{tried})")
    print(f"worst_convergence_s: {worst:.2f} s (target < 10)")
    print(f"duplicates: {dups} (target 0)")
    print(f"orphans: {orphans} (target 0)")
    print(f"faults_bench_time: {time.perf_counter() - t0:.0f} s")
    return 0 if survived == tried and dups == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
