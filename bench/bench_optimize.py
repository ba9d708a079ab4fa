#!/usr/bin/env python3
"""Optimizer throughput.

1. The search loop's ceiling: the real main-process loop (CMA-ES over the demo config's 22
   keys, asked and told a generation at a time, tasks submitted and collected as futures,
   every trial's log line written and flushed, progress callbacks) driven by an executor whose
   evaluator returns at once, in the main process, with a prepared log line of a real trial's
   size. trials/s is what the main process alone sustains, however many workers it had; CPU
   per trial is its own CPU time divided by the trials. Measured with the populations the
   auto layout gives 2, 16 and 200 workers.
2. Real searches: trials/s with 1 and with all local workers on 30 days and 1 year of
   synthetic candles (seeded, not market data), the parallel efficiency, the share of the
   time the workers spent in backtests (1 - idle: a machine busy with other work slows the
   backtests but hardly moves it), and the optimizer's
   overhead per trial (CPU time of the main process, its executor threads included: ask/tell,
   pickling tasks and results, log writes, bookkeeping) as a fraction of the backtest time.
   Each figure is the median of REPEATS runs; the 1-worker and all-worker runs alternate, so a
   slow spell of this shared machine hits both alike, and use the same population, so they
   evaluate the same candidates (a generation is told at once, whatever its tasks' order).
   Pool start-up and JIT warm-up happen before the timed search.

Runtime about two minutes on 2 cores. Last lines: `name: value unit (target ...)`.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as backtest.py: no BLAS threads in the main process

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passivbot.config import load_backtest_config  # noqa: E402
from passivbot.data import synthetic_candles  # noqa: E402
from passivbot.optimize import optimize  # noqa: E402
from passivbot.optimize.resume import TrialLog  # noqa: E402
from passivbot.optimize.run import AUTO_BATCH_PER_WORKER  # noqa: E402
from passivbot.optimize.samplers import make_sampler  # noqa: E402
from passivbot.optimize.search import Search  # noqa: E402
from passivbot.optimize.space import SearchSpace  # noqa: E402

SPANS = {"30d": (30, 640), "1y": (365, 384)}  # days, trials per run
REPEATS = 5
CEILING_TRIALS = 60_000


class InstantExecutor:
    """An executor whose evaluator returns at once, in the calling process: the score of a
    bowl around 0.3 in the unit cube, and a log line shaped like a real trial's."""

    task_cost_s = 0.0003  # as a local pool's (executor.LocalExecutor)

    def __init__(self, n_workers: int, line_tail: str):
        self.n_workers = n_workers
        self._tail = line_tail

    def submit(self, task) -> cf.Future:
        numbers, _, points = task
        if isinstance(points, np.ndarray):
            scores = (-((points - 0.3) ** 2).sum(axis=1)).tolist()
        else:
            scores = [0.0] * len(numbers)
        tail = self._tail
        fut: cf.Future = cf.Future()
        fut.set_result([(n, s, [s], 0.0, 0.0, f'{{"number":{n},{tail}')
                        for n, s in zip(numbers, scores)])
        return fut

    def submit_many(self, tasks) -> list[cf.Future]:
        return [self.submit(t) for t in tasks]

    def close(self) -> None:
        pass


def ceiling(bt, workers: int, trials: int) -> dict[str, float]:
    """trials/s and main-process CPU per trial of the search loop with InstantExecutor."""
    space = SearchSpace.build(bt.optimize.bounds, bt.starting_configs[0])
    x0 = space.encode(space.params_of(bt.starting_configs[0])[0])
    pop = max(workers * AUTO_BATCH_PER_WORKER, 13)
    sampler = make_sampler("cmaes", space, 0, pop, x0)
    params = space.decode(x0)[0]
    stats = {k: 0.123456789012345 for k in ("gain", "average_daily_gain", "max_drawdown",
                                            "max_hours_stuck", "n_fills", "fills_per_day",
                                            "closest_liquidation_distance", "sharpe_ratio",
                                            "fees_paid", "final_balance", "final_equity",
                                            "liquidated", "n_days", "volume", "profit",
                                            "loss", "n_entries", "n_closes")}
    tail = json.dumps({"origin": "search", "params": params, "score": -0.0123456789,
                       "values": [-0.0123456789], "stats": stats, "fold_scores": [-0.01234],
                       "violations": {}, "error": None, "seconds": 0.0131234,
                       "cpu_seconds": 0.0130987}, separators=(",", ":"))[1:]
    with tempfile.TemporaryDirectory() as tmp:
        log = TrialLog(Path(tmp) / "trials.jsonl")
        search = Search(sampler, InstantExecutor(workers, tail), log)
        n = [0]

        def on_done(results):  # what run.py's progress callback does
            n[0] += len(results)
            max(r[1] for r in results)

        t0, c0 = time.perf_counter(), time.process_time()
        search.run(trials, on_done)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        log.close()
    return {"tps": n[0] / wall, "cpu_ms": 1e3 * cpu / n[0], "pop": pop,
            "sampler_ms": 1e3 * search.stats.sampler_cpu_s / n[0]}


def one_run(bt, candles, workers: int, trials: int, pop: int,
            executor=None) -> dict[str, float]:
    """One timed search of `trials` trials, population `pop`, on a pool of `workers` started
    for it, or on `executor` (a warm pool of that many workers: its start-up is not timed)."""
    with tempfile.TemporaryDirectory() as tmp:
        o = replace(bt.optimize, iterations=trials, batch_size=pop)
        res = optimize(replace(bt, optimize=o), workers=None if executor else workers, root=tmp,
                       candles=candles, progress=False, report=False, executor=executor)
    s = res.search
    return {"tps": s.trials / s.wall_s, "trials": s.trials, "wall_s": s.wall_s,
            "main_ms": 1e3 * s.cpu_s / s.trials,
            "sampler_ms": 1e3 * s.sampler_cpu_s / s.trials,
            "loop_ms": 1e3 * s.thread_cpu_s / s.trials,
            "bt_ms": 1e3 * s.eval_s / s.trials, "bt_cpu_ms": 1e3 * s.eval_cpu_s / s.trials,
            "overhead": s.overhead_fraction,
            # the share of the wall time the workers spent in backtests: what the optimizer
            # decides (idle workers at a generation's end, waiting on the main process), not
            # how fast the machine runs a backtest, so other load on the machine hardly moves it
            "busy": s.eval_s / (workers * s.wall_s)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--quick", action="store_true", help="fewer trials (smoke run)")
    ap.add_argument("--ceiling-only", action="store_true", help="only the search-loop ceiling")
    ap.add_argument("--spans", default=",".join(SPANS), help="real searches on these spans")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} cores", flush=True)
    bt = load_backtest_config("backtest_configs/demo.json")
    figures: list[str] = []
    cel = {}
    for w in (2, 16, 200):
        runs = [ceiling(bt, w, CEILING_TRIALS // (4 if args.quick else 1)) for _ in range(3)]
        cel[w] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        m = cel[w]
        print(f"ceiling, population {m['pop']:.0f} (auto for {w} workers): {m['tps']:.0f} "
              f"trials/s, main CPU {1e3 * m['cpu_ms']:.1f} us a trial (sampler "
              f"{1e3 * m['sampler_ms']:.1f} us)", flush=True)
    for w in (2, 16, 200):  # wall-clock rate, and the rate per CPU second (load-independent)
        m = cel[w]
        figures += [
            f"optimize_loop_ceiling_trials_per_s_{w}_workers_layout: {m['tps']:.0f} trials/s "
            f"(target >= 20000)",
            f"optimize_loop_ceiling_trials_per_cpu_s_{w}_workers_layout: "
            f"{1e3 / m['cpu_ms']:.0f} trials/s",
            f"optimize_loop_main_cpu_ms_per_trial_{w}_workers_layout: {m['cpu_ms']:.4f} ms "
            f"(target < 0.05)",
        ]
    if args.ceiling_only:
        print("\n".join(figures))
        return 0
    n_all = os.cpu_count() or 1
    counts = sorted({1, n_all})
    pop = AUTO_BATCH_PER_WORKER * n_all  # the all-worker auto population, on both
    for name, (days, trials) in SPANS.items():
        if name not in args.spans.split(","):
            continue
        trials = trials // 4 if args.quick else trials
        candles = synthetic_candles(days * 1440, 1)
        runs: dict[int, list[dict[str, float]]] = {w: [] for w in counts}
        for _ in range(args.repeats):
            for w in counts:
                runs[w].append(one_run(bt, candles, w, trials, pop))
        med = {w: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
               for w, rs in runs.items()}
        for w in counts:
            m = med[w]
            each = ", ".join(f"{r['tps']:.0f}" for r in runs[w])
            print(f"{name} workers={w}: {m['tps']:.1f} trials/s (runs: {each}); per trial: "
                  f"backtest {m['bt_ms']:.2f} ms ({m['bt_cpu_ms']:.2f} ms CPU), main process "
                  f"{m['main_ms']:.3f} ms CPU (search loop's thread {m['loop_ms']:.3f}, of "
                  f"which sampler {m['sampler_ms']:.3f}; the rest in the executor's threads); "
                  f"workers busy {m['busy']:.3f}",
                  flush=True)
        eff = med[n_all]["tps"] / (n_all * med[1]["tps"])
        figures += [
            f"optimize_{name}_trials_per_s_1_worker: {med[1]['tps']:.1f} trials/s",
            f"optimize_{name}_trials_per_s_{n_all}_workers: {med[n_all]['tps']:.1f} trials/s",
            f"optimize_{name}_parallel_efficiency: {eff:.3f} ratio (target >= 0.90)",
            f"optimize_{name}_worker_busy_fraction_{n_all}_workers: {med[n_all]['busy']:.3f} "
            f"ratio",
            f"optimize_{name}_backtest_ms_per_trial: {med[1]['bt_ms']:.3f} ms",
            f"optimize_{name}_backtest_cpu_ratio_{n_all}_vs_1_workers: "
            f"{med[n_all]['bt_cpu_ms'] / med[1]['bt_cpu_ms']:.3f} ratio",
            f"optimize_{name}_overhead_ms_per_trial: {med[n_all]['main_ms']:.3f} ms",
            f"optimize_{name}_overhead_fraction: {med[n_all]['overhead']:.3f} ratio "
            f"(target < 0.05; main-process CPU / backtest CPU, a trial: load does not move it)",
            f"optimize_{name}_overhead_wall_fraction: "
            f"{med[n_all]['main_ms'] / med[n_all]['bt_ms']:.3f} ratio (target < 0.05; "
            f"main-process CPU / backtest wall time, a trial: load flatters it)",
        ]
    print(f"load average at end: {os.getloadavg()} on {os.cpu_count()} cores")
    print("\n".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
