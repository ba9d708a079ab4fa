"""Fault campaign over a longer lockstep run: every fault the emulator offers, `--rounds` times
each, at seeded random minutes, on Binance and Bybit (harness.fault_campaign). Prints each
fault with its convergence time, then the figures.

`--faults classic` (default) are the original nine; `--faults harsh` the venues' harsher
answers (clock skew, rate limit, IP ban, silent listen-key expiry, partial fills, 24 h cut),
run on a busy window of the bundled data so the faults that wait for a fill get one; `all`
both. `--outage N` adds one long outage of N consecutive failures (1025: the issue's overflow
threshold; the run stops it after `--outage-limit` seconds and says how far it got).
`--realism full` runs the emulator's realistic mode (default: minute). `--backoff-max S` caps the
bot's own backoffs (`BotOptions.backoff_max_s`, 30 s in production; 0.5 s by default with
`--outage`, so the 1,025 failures come in about a minute instead of hours).

Run: python3 bench/faults.py --seed N [--rounds 2] [--minutes 240] [--faults all]
     [--realism full] [--outage 1025] [--exchanges binance bybit]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUSY = 6840  # bundled ETHUSDT: fills in most minutes with the parity config


def main() -> int:
    import numpy as np

    from passivbot.data.bundled import load_bundled
    from harness.fault_campaign import FAULTS, NEW_FAULTS, Campaign, report_lines, schedule
    from harness.parity import busy_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2, help="times each fault is injected")
    ap.add_argument("--minutes", type=int, default=240, help="lockstep minutes per exchange")
    ap.add_argument("--exchanges", nargs="+", default=["binance", "bybit"])
    ap.add_argument("--faults", choices=("classic", "harsh", "all"), default="classic")
    ap.add_argument("--realism", choices=("minute", "full"), default="minute")
    ap.add_argument("--outage", type=int, default=0, help="consecutive failures of one outage")
    ap.add_argument("--outage-limit", type=float, default=300.0, help="seconds")
    ap.add_argument("--backoff-max", type=float, default=None,
                    help="cap of the bot's reconnect / failed-cycle backoffs, s (BotOptions."
                    "backoff_max_s; default 30, with --outage 0.5 so 1,025 failures come in "
                    "about a minute)")
    args = ap.parse_args()
    faults = {"classic": FAULTS, "harsh": NEW_FAULTS, "all": FAULTS + NEW_FAULTS}[args.faults]
    start = 0 if args.faults == "classic" else BUSY
    t0 = time.perf_counter()
    candles = np.array(load_bundled("ETHUSDT")[start: start + args.minutes + 5])
    reports = []
    options = None
    cap = args.backoff_max if args.backoff_max is not None else (0.5 if args.outage else None)
    if cap is not None:
        import dataclasses

        from harness.parity import lockstep_options

        options = dataclasses.replace(lockstep_options(), backoff_max_s=cap)
    for ex in args.exchanges:
        plan = schedule(args.seed, ex, args.minutes, args.rounds, faults=faults)
        if args.outage:
            taken = {m for m, _ in plan}
            plan.append((min(m for m in range(5, args.minutes) if m not in taken),
                         "long_outage"))
        camp = Campaign(ex, busy_config(), candles, args.seed, realism=args.realism,
                        outage_failures=args.outage or 1025,
                        outage_limit_s=args.outage_limit, options=options)
        rep = asyncio.run(camp.run(plan, args.minutes))
        print("\n".join(report_lines(rep)), flush=True)
        reports.append(rep)
    results = [x for r in reports for x in r.results]
    tried = len(results)
    survived = sum(r.survived for r in reports)
    worst = max(r.worst_s for r in reports)
    dups = sum(r.duplicates for r in reports)
    orphans = sum(x.orphans for x in results)
    excess = max(r.excess_exposure for r in reports)
    refused = sum(x.refused_in_wait for x in results)
    print(f"faults_tried: {tried} ({args.faults}, realism {args.realism})")
    print(f"faults_survived: {survived}/{tried} (target {tried}/{tried})")
    print(f"worst_convergence_s: {worst:.2f} s (target < 10)")
    print(f"duplicates: {dups} (target 0)")
    print(f"orphans: {orphans} (target 0)")
    print(f"excess_entry_exposure: {excess:.2f} USDT (target 0)")
    print(f"requests_in_retry_after: {refused} (target 0)")
    unsettled = sum(len(r.unsettled) for r in reports)
    print(f"minutes_not_caught_up: {unsettled} (target 0; the bot's state differs from the "
          "emulator's after a lockstep minute)")
    for x in results:
        if x.fault == "long_outage":
            print(f"outage: {x.note} (target >= {args.outage} failures, tasks alive)")
    print(f"faults_bench_time: {time.perf_counter() - t0:.0f} s")
    return 0 if survived == tried and dups == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
