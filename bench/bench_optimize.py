#!/usr/bin/env python3
"""Optimizer throughput: trials/s with 1 and with all local workers on 30 days and 1 year of
synthetic candles (seeded, not market data), the parallel efficiency, and the optimizer's own
overhead per trial (CPU time of the main process: Optuna ask/tell, candidate dicts, pickling
tasks and results, log write + fsync, bookkeeping) as a fraction of the backtest time per
trial.

Each figure is the median of REPEATS runs of a CMA-ES search over the demo config's bounds,
with the same task layout on 1 worker as on all, hence the same candidates (the search tells
results in submission order). The 1-worker and
all-worker runs alternate, so a slow spell of this shared (virtual) machine
hits both alike; pool start-up and JIT warm-up happen before the timed search. Runtime about
two minutes on 2 cores. Last lines: `name: value unit (target ...)`.

Besides the targets it prints where the time goes, per trial: the backtest's CPU time with 1
and with all workers (the same backtests: more with all only because the processes share the
cores' caches and memory bandwidth), the main process's CPU time and, of it, Optuna's ask +
tell.
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
from passivbot.optimize.run import AUTO_BATCH_PER_WORKER  # noqa: E402

SPANS = {"30d": (30, 600), "1y": (365, 400)}  # days, trials per run
REPEATS = 5


def one_run(bt, candles, workers: int, trials: int, batch: int, tasks: int
            ) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        o = replace(bt.optimize, iterations=trials, batch_size=batch)
        res = optimize(replace(bt, optimize=o), workers=workers, root=tmp, candles=candles,
                       progress=False, report=False, tasks_in_flight=tasks)
    s = res.search
    return {"tps": s.trials / s.wall_s, "main_ms": 1e3 * s.cpu_s / s.trials,
            "optuna_ms": 1e3 * s.sampler_cpu_s / s.trials,
            "bt_ms": 1e3 * s.eval_s / s.trials, "bt_cpu_ms": 1e3 * s.eval_cpu_s / s.trials,
            "overhead": s.overhead_fraction}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--quick", action="store_true", help="fewer trials (smoke run)")
    args = ap.parse_args()
    bt = load_backtest_config("backtest_configs/demo.json")
    n_all = os.cpu_count() or 1
    counts = sorted({1, n_all})
    # The same search on 1 and on all workers: the all-worker default task layout on both.
    # Results are told in submission order, so both runs evaluate the same candidates (a
    # one-year backtest's cost varies by half between regions of the space, which would
    # otherwise swamp the comparison).
    batch, tasks = AUTO_BATCH_PER_WORKER * n_all, 2 * n_all
    figures: list[str] = []
    for name, (days, trials) in SPANS.items():
        trials = trials // 4 if args.quick else trials
        candles = synthetic_candles(days * 1440, 1)
        runs: dict[int, list[dict[str, float]]] = {w: [] for w in counts}
        for _ in range(args.repeats):
            for w in counts:
                runs[w].append(one_run(bt, candles, w, trials, batch, tasks))
        med = {w: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
               for w, rs in runs.items()}
        for w in counts:
            m = med[w]
            each = ", ".join(f"{r['tps']:.0f}" for r in runs[w])
            print(f"{name} workers={w}: {m['tps']:.1f} trials/s (runs: {each}); per trial: backtest "
                  f"{m['bt_ms']:.2f} ms ({m['bt_cpu_ms']:.2f} ms CPU), main process "
                  f"{m['main_ms']:.3f} ms CPU of which Optuna {m['optuna_ms']:.3f}", flush=True)
        eff = med[n_all]["tps"] / (n_all * med[1]["tps"])
        target = " (target >= 0.90)" if name == "1y" else ""
        figures += [
            f"optimize_{name}_trials_per_s_1_worker: {med[1]['tps']:.1f} trials/s",
            f"optimize_{name}_trials_per_s_{n_all}_workers: {med[n_all]['tps']:.1f} trials/s",
            f"optimize_{name}_parallel_efficiency: {eff:.3f} ratio{target}",
            f"optimize_{name}_backtest_ms_per_trial: {med[1]['bt_ms']:.3f} ms",
            f"optimize_{name}_backtest_cpu_ratio_{n_all}_vs_1_workers: "
            f"{med[n_all]['bt_cpu_ms'] / med[1]['bt_cpu_ms']:.3f} ratio",
            f"optimize_{name}_overhead_ms_per_trial: {med[1]['main_ms']:.3f} ms",
            f"optimize_{name}_optuna_ms_per_trial: {med[1]['optuna_ms']:.3f} ms",
            f"optimize_{name}_overhead_fraction: {med[1]['overhead']:.3f} ratio"
            + (" (target < 0.05)" if name == "1y" else ""),
        ]
    print("\n".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
