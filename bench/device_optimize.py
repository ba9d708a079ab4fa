#!/usr/bin/env python3
"""Optimizer figures on a many-core machine, in short bounded steps (bench/device_optimize.sh
runs them, each under `timeout`, and keeps what every finished step printed).

Steps:
- `machine`: what the figures were measured on (cores, CPU model, load, versions).
- `warm`: compile the engine once in this process (numba writes its cache), so the workers of
  the later steps load it instead of compiling it W times at once.
- `ceiling`: the search loop's ceiling (bench_optimize.ceiling: the real main-process loop
  with an evaluator that returns at once): trials/s and main-process CPU a trial, with the
  auto population of W and of 200 workers.
- `span --days D`: real searches (CMA-ES over the demo's 22 keys, synthetic candles of D
  days) on 1 local worker, on W local workers and on a W-worker Dask LocalCluster. All three
  evaluate the same candidates (same seed, same population --pop): the 1-worker search runs
  once for about --target-s seconds; each pool then runs the same search --repeats times
  (median), reusing one warm pool (optimize(executor=...)), so pool start-up and JIT load
  are outside the timed searches. Per layout: trials/s, parallel efficiency
  (trials/s / (W x the 1-worker trials/s)), the workers' busy share, the backtest's wall and
  CPU time a trial, the main process's CPU a trial (on Dask its scheduler thread included:
  LocalCluster runs the scheduler in this process), and the overhead: main-process CPU a
  trial / backtest CPU a trial (load-independent) and / backtest wall a trial.

Lines `name: value unit (target ...)` are the figures; the rest is detail.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path


for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as backtest.py: no BLAS threads in the main process

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from passivbot.config import load_backtest_config  # noqa: E402
from passivbot.data import synthetic_candles  # noqa: E402
from passivbot.optimize.objective import evaluate, init_worker  # noqa: E402
from passivbot.optimize.run import AUTO_BATCH_PER_WORKER, eval_context  # noqa: E402
from passivbot.optimize.samplers import make_sampler  # noqa: E402
from passivbot.optimize.space import SearchSpace  # noqa: E402

CONFIG = "backtest_configs/demo.json"


def out(line: str) -> None:
    print(line, flush=True)


def setup(days: int):
    bt = load_backtest_config(CONFIG)
    space = SearchSpace.build(bt.optimize.bounds, replace(bt.starting_configs[0], symbol=bt.symbol))
    x0 = space.encode(space.params_of(bt.starting_configs[0])[0])
    candles = synthetic_candles(days * 1440, 1)
    ctx = eval_context(bt, candles, warmup=space.candidate(space.decode(x0)[0]), space=space)
    return bt, space, x0, candles, ctx


def step_machine(workers: int) -> None:
    import numba

    out(f"machine: {platform.node()} {platform.machine()}, os.cpu_count {os.cpu_count()}, "
        f"affinity {len(os.sched_getaffinity(0))}, load average {os.getloadavg()}")
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        keep = ("Model name", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
                "CPU max MHz", "L3 cache")
        for ln in lscpu.splitlines():
            if ln.split(":")[0].strip() in keep:
                out("  " + " ".join(ln.split()))
    except (OSError, subprocess.SubprocessError):
        pass
    out(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
        f"workers {workers}")
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        out(f"commit {rev or '?'}")
    except (OSError, subprocess.SubprocessError):
        pass


def step_warm() -> None:
    t0 = time.perf_counter()
    _, _, _, _, ctx = setup(1)
    init_worker(ctx)  # the warm-up backtest: compiles the engine, or loads numba's cache
    t1 = time.perf_counter()
    evaluate(ctx, ctx.warmup)
    out(f"warm: engine compiled or loaded in {t1 - t0:.1f} s; one 1-day backtest then "
        f"{1e3 * (time.perf_counter() - t1):.2f} ms")


def step_ceiling(workers: int, trials: int) -> None:
    import bench_optimize as bo

    bt = load_backtest_config(CONFIG)
    for w in sorted({workers, 200}):
        runs = [bo.ceiling(bt, w, trials) for _ in range(3)]
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        out(f"ceiling, population {m['pop']:.0f} (auto for {w} workers): sampler "
            f"{1e3 * m['sampler_ms']:.1f} us a trial")
        out(f"optimize_loop_ceiling_trials_per_s_{w}_workers_layout: {m['tps']:.0f} trials/s "
            f"(target >= 20000)")
        out(f"optimize_loop_main_cpu_ms_per_trial_{w}_workers_layout: {m['cpu_ms']:.4f} ms "
            f"(target < 0.05)")


def _search(bt, candles, executor, trials: int, pop: int) -> dict[str, float]:
    import bench_optimize as bo

    return bo.one_run(bt, candles, executor.n_workers, trials, pop, executor=executor)


def _report(name: str, layout: str, runs: list[dict[str, float]]) -> dict[str, float]:
    m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    each = ", ".join(f"{r['tps']:.0f}" for r in runs)
    out(f"{name} {layout}: {m['tps']:.1f} trials/s (runs: {each}; {m['trials']:.0f} trials in "
        f"{m['wall_s']:.2f} s); per trial: backtest {m['bt_ms']:.3f} ms wall, "
        f"{m['bt_cpu_ms']:.3f} ms CPU; main process {m['main_ms']:.4f} ms CPU; workers busy "
        f"{m['busy']:.3f}")
    out(f"optimize_{name}_{layout}_trials_per_s: {m['tps']:.1f} trials/s")
    out(f"optimize_{name}_{layout}_main_cpu_ms_per_trial: {m['main_ms']:.4f} ms")
    out(f"optimize_{name}_{layout}_overhead_cpu_pct: {100 * m['main_ms'] / m['bt_cpu_ms']:.2f} % "
        f"of a backtest's CPU (target < 5)")
    out(f"optimize_{name}_{layout}_overhead_wall_pct: {100 * m['main_ms'] / m['bt_ms']:.2f} % "
        f"of a backtest's wall time (target < 5)")
    return m


def step_span(days: int, workers: int, target_s: float, repeats: int, pop: int,
              dask: bool, local: bool = True, pool_gens: int = 0) -> None:
    from passivbot.optimize.executor import DaskExecutor, LocalExecutor

    name = f"{days}d"
    bt, space, x0, candles, ctx = setup(days)
    # the backtest time a trial, in this process, on the first generation's candidates
    init_worker(ctx)
    pts = make_sampler("cmaes", space, bt.optimize.seed, 4, x0).ask()
    t0 = time.perf_counter()
    for p in space.decode(pts):
        evaluate(ctx, space.candidate(p))
    bt_s = (time.perf_counter() - t0) / len(pts)
    gens = max(2, round(target_s / (pop * bt_s)))
    trials = gens * pop
    # a pool's search as long as its own speed needs: with W workers the 1-worker search's
    # generations take 1/W of the time, and a search of 2 generations is mostly its first
    # generation's start and its last one's tail (`--pool-gens`)
    pool_trials = (pool_gens or gens) * pop
    out(f"{name}: {len(candles)} candles, ~{1e3 * bt_s:.2f} ms a backtest here; population "
        f"{pop}, {gens} generations ({trials} trials) on 1 worker, {pool_trials // pop} "
        f"generations ({pool_trials} trials) per pool search")
    t = time.perf_counter()
    ex = LocalExecutor(ctx, 1)
    out(f"  1 local worker up in {time.perf_counter() - t:.1f} s")
    try:
        one = _report(name, "1_worker", [_search(bt, candles, ex, trials, pop)])
    finally:
        ex.close()
    for kind in ("local",) * local + ("dask",) * dask:
        cluster = None
        t = time.perf_counter()
        if kind == "dask":
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.ERROR)
            ex = DaskExecutor(ctx, cluster.scheduler_address, workers)
        else:
            ex = LocalExecutor(ctx, workers)
        layout = f"{workers}_workers_{kind}"
        out(f"  {layout} up in {time.perf_counter() - t:.1f} s")
        try:
            m = _report(name, layout, [_search(bt, candles, ex, pool_trials, pop)
                                       for _ in range(repeats)])
        finally:
            ex.close()
            if cluster is not None:
                cluster.close()
        out(f"optimize_{name}_parallel_efficiency_{layout}: "
            f"{m['tps'] / (workers * one['tps']):.3f} ratio (target >= "
            f"{0.9 if days >= 365 else 0.8 if workers > 2 else 0.9})")
        out(f"optimize_{name}_backtest_cpu_ratio_{layout}_vs_1: "
            f"{m['bt_cpu_ms'] / one['bt_cpu_ms']:.3f} ratio (a backtest's CPU time with "
            f"{workers} busy cores vs one: the machine, not the optimizer)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("machine", "warm", "ceiling", "span"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--target-s", type=float, default=10.0,
                    help="seconds the 1-worker search should take (whole generations)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pop", type=int, default=0, help="population (0: the auto population, 32 per worker)")
    ap.add_argument("--ceiling-trials", type=int, default=30_000)
    ap.add_argument("--pool-gens", type=int, default=0,
                    help="generations of each pool search (0: as many as the 1-worker search)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-local", action="store_true")
    a = ap.parse_args()
    if a.step == "machine":
        step_machine(a.workers)
    elif a.step == "warm":
        step_warm()
    elif a.step == "ceiling":
        step_ceiling(a.workers, a.ceiling_trials)
    else:
        step_span(a.days, a.workers, a.target_s, a.repeats,
                  a.pop or AUTO_BATCH_PER_WORKER * a.workers, not a.no_dask, not a.no_local,
                  a.pool_gens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
