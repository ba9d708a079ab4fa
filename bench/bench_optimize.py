#!/usr/bin/env python3
"""Optimizer throughput: trials/s with 1 and with all local workers on 30 days and 1 year of
synthetic candles (seeded, not market data), the parallel efficiency, and the optimizer's own
overhead per trial (CPU time of the main process: Optuna ask/tell, candidate dicts, pickling
tasks and results, log write + fsync, bookkeeping) as a fraction of the evaluation (backtest)
time per trial.

Each figure is the median of REPEATS runs of a CMA-ES search over the demo config's bounds
(pool start-up and JIT warm-up excluded: they happen before the timed search). Runtime about
a minute on 2 cores. Last lines: `name: value unit (target ...)`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passivbot.config import load_backtest_config  # noqa: E402
from passivbot.data import synthetic_candles  # noqa: E402
from passivbot.optimize import optimize  # noqa: E402

SPANS = {"30d": (30, 600), "1y": (365, 240)}  # days, trials per run
REPEATS = 3


def one_run(bt, candles, workers: int, trials: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        res = optimize(replace(bt, optimize=replace(bt.optimize, iterations=trials)),
                       workers=workers, root=tmp, candles=candles, progress=False, report=False)
    s = res.search
    return {"tps": s.trials / s.wall_s, "busy_ms": 1e3 * s.cpu_s / s.trials,
            "eval_ms": 1e3 * s.eval_s / s.trials, "overhead": s.overhead_fraction}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--quick", action="store_true", help="fewer trials (smoke run)")
    args = ap.parse_args()
    bt = load_backtest_config("backtest_configs/demo.json")
    n_all = os.cpu_count() or 1
    figures: list[str] = []
    for name, (days, trials) in SPANS.items():
        trials = trials // 4 if args.quick else trials
        candles = synthetic_candles(days * 1440, 1)
        med = {}
        for w in sorted({1, n_all}):
            runs = [one_run(bt, candles, w, trials) for _ in range(args.repeats)]
            med[w] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            m = med[w]
            print(f"{name} workers={w}: {m['tps']:.1f} trials/s, backtest {m['eval_ms']:.2f} ms"
                  f"/trial, optimizer {m['busy_ms']:.3f} ms/trial", flush=True)
        eff = med[n_all]["tps"] / (n_all * med[1]["tps"])
        target = " (target >= 0.90)" if name == "1y" else ""
        figures += [
            f"optimize_{name}_trials_per_s_1_worker: {med[1]['tps']:.1f} trials/s",
            f"optimize_{name}_trials_per_s_{n_all}_workers: {med[n_all]['tps']:.1f} trials/s",
            f"optimize_{name}_parallel_efficiency: {eff:.3f} ratio{target}",
            f"optimize_{name}_backtest_ms_per_trial: {med[1]['eval_ms']:.3f} ms",
            f"optimize_{name}_overhead_ms_per_trial: {med[1]['busy_ms']:.3f} ms",
            f"optimize_{name}_overhead_fraction: {med[1]['overhead']:.3f} ratio"
            + (" (target < 0.05)" if name == "1y" else ""),
        ]
    print("\n".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
