#!/usr/bin/env python3
"""Backtester speed: candles per second over 30 days, 1 year and 3 years of synthetic 1m candles
(long and short enabled; median of several runs after compile), peak memory, and cold (fresh
numba cache: compile) and warm (cache filled) start times in fresh processes.

    python3 bench/bench_backtest.py [--candles PATH.npy] [--live-config PATH] [--runs N]

`--candles` times one (n, 6) float64 array (timestamp ms, open, high, low, close, volume) instead
of the synthetic spans, so the same work can be timed side by side with other backtesters.

Every run uses the exchanges' accounting: the live config's leverage (initial-margin check) and
funding every 8 h at +0.01 % (synthetic) or the bundled funding history when the data package
provides it. On the bundled ETHUSDT sample the same kernel is also timed with the rules off
(no leverage check, no funding: the pre-accounting work) and beside the figure recorded before
the accounting landed (BASELINE_ETH_CPS, commit d1100f3, this 2-core machine), and the old engine
itself side by side: commit d1100f3's tree (`git archive`) and this one in fresh processes,
alternated, same candles and config, thread CPU time (`--only-old-vs-new` runs just that).
The last lines are `name: value unit (target ...)`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

MIN_PER_DAY = 1440
SPANS = (("30d", 30), ("1y", 365), ("3y", 3 * 365))
TARGET_CPS = 10_000_000
# Measured before funding/margin/liquidation rules (commit d1100f3, same machine, same config):
# bundled ETHUSDT (73,140 candles) median of 7 runs; synthetic 3y median of 2 runs.
BASELINE_ETH_CPS = 23_300_000
BASELINE_3Y_CPS = 39_500_000
FUNDING_EVERY_MS = 8 * 3600 * 1000
FUNDING_RATE = 0.0001

# Run in a fresh interpreter: import + compile (or load from cache) + one tiny backtest.
START_SNIPPET = """
import time; t0 = time.perf_counter()
import numpy as np
from passivbot.backtest.engine import run_backtest
from passivbot.markets import market_spec
from passivbot.config import load_live_config, side_params
cfg = load_live_config({cfg!r}); spec = market_spec("binance", cfg.symbol)
c = np.zeros((200, 6)); c[:, 0] = np.arange(200) * 60000.0; c[:, 1:5] = 2000.0
c[::7, 3] = 1900.0; c[::11, 2] = 2100.0
run_backtest(c, side_params(cfg.long), side_params(cfg.short), spec.market_array(),
             spec.brackets_array(), 1000.0, 0.0002, 0.0005, spec.mmr_add,
             leverage=float(cfg.leverage), funding_times=np.array([3_600_000]),
             funding_rates=np.array([1e-4]))
print(time.perf_counter() - t0)
"""


MEMORY_SNIPPET = """
import resource, numpy as np
from passivbot.backtest.engine import run_backtest
from passivbot.markets import market_spec
from passivbot.config import load_live_config, side_params
cfg = load_live_config({cfg!r}); spec = market_spec("binance", cfg.symbol)
args = (side_params(cfg.long), side_params(cfg.short), spec.market_array(), spec.brackets_array(),
        1000.0, 0.0002, 0.0005, spec.mmr_add)
kw = dict(leverage=float(cfg.leverage))
run_backtest(np.load({path!r})[:500], *args, **kw)
candles = np.load({path!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run_backtest(candles, *args, **kw)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(after / 1024, (after - before) / 1024)
"""


def peak_memory(cfg: str, candles: np.ndarray) -> tuple[float, float]:
    """(peak RSS MB of a process that loads `candles` and backtests them, MB the backtest added
    over the loaded candles), in a fresh process so candle generation does not count."""
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as d:
        path = str(Path(d) / "candles.npy")
        np.save(path, candles)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", MEMORY_SNIPPET.format(cfg=cfg, path=path)],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
                             check=True)
    peak, added = (float(x) for x in out.stdout.split())
    return peak, added


def start_time(cfg: str, cache_dir: str) -> float:
    """Seconds from interpreter start of the snippet to its first backtest result."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", START_SNIPPET.format(cfg=cfg)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def funding_for(candles: np.ndarray, symbol: str | None = None) -> tuple:
    """(times, rates, marks) over the candles: the bundled history of `symbol` when the data
    package has it, else every 8 h at FUNDING_RATE with the mark unknown (NaN: candle open)."""
    if symbol is not None:
        try:
            from passivbot.data.perp import load_funding
            fs = load_funding("binance", symbol, int(candles[0, 0]), int(candles[-1, 0]) + 60_000)
            if len(fs.times_ms):
                return (np.asarray(fs.times_ms, np.int64), np.asarray(fs.rates, np.float64),
                        np.asarray(fs.mark, np.float64), fs.source)
        except ImportError:
            pass
    t0 = (int(candles[0, 0]) // FUNDING_EVERY_MS + 1) * FUNDING_EVERY_MS
    times = np.arange(t0, int(candles[-1, 0]) + 1, FUNDING_EVERY_MS, dtype=np.int64)
    return times, np.full(len(times), FUNDING_RATE), np.full(len(times), np.nan), "synthetic 8h"


def kernel_args(base: tuple, leverage: float, funding: tuple | None) -> tuple:
    """run_backtest_nb's arguments after the candles: rules on (leverage, funding) or off."""
    if funding is None:
        funding = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return (*base, False, leverage, *funding[:3], 0, None, None)  # no unstuck, no stop


def time_runs(candles: np.ndarray, args: tuple, runs: int) -> tuple[float, int]:
    from passivbot.backtest.engine import run_backtest_nb

    times = []
    n_fills = 0
    for _ in range(runs):
        t = time.perf_counter()
        fills, _, _ = run_backtest_nb(candles, *args)
        times.append(time.perf_counter() - t)
        n_fills = len(fills)
    return statistics.median(times), n_fills


# The old engine, timed side by side: the tree of OLD_COMMIT (the engine before funding,
# margin, liquidation and bounded-loss rules: BASELINE_ETH_CPS was measured on it), extracted
# with `git archive` and run in a fresh interpreter beside a fresh interpreter of this tree,
# alternately, on the same candles and live config. Each prints candles/s (median of its runs)
# in the thread's CPU time: on the shared machine wall time measures the other processes too.
OLD_COMMIT = "d1100f3"
ENGINE_SNIPPET = """
import statistics, sys, time
import numpy as np
from passivbot.backtest.engine import run_backtest_nb
from passivbot.config import load_live_config, side_params
from passivbot.markets import market_spec
cfg = load_live_config({cfg!r}); spec = market_spec("binance", cfg.symbol)
c = np.load({path!r})
args = (side_params(cfg.long), side_params(cfg.short), spec.market_array(),
        spec.brackets_array(), 1000.0, 0.0002, 0.0005, spec.mmr_add, False)
if {new!r}:  # this tree: the rules on (leverage, funding), bounded-loss rules off
    f = np.load({funding!r})
    args = (*args, float(cfg.leverage), f["times"], f["rates"], f["marks"], 0, None, None)
run_backtest_nb(c[:2000], *args)
t = []
for _ in range({runs}):
    t0 = time.thread_time(); run_backtest_nb(c, *args); t.append(time.thread_time() - t0)
print(len(c) / statistics.median(t))
"""


def _engine_cps(tree: Path, cfg: str, path: str, funding: str, new: bool, runs: int,
                cache: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=cache)
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", ENGINE_SNIPPET.format(
        cfg=cfg, path=path, funding=funding, new=new, runs=runs)], env=env, cwd=tree,
        capture_output=True, text=True, timeout=900, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def old_engine_lines(cfg_path: str, rounds: int, runs: int) -> list[str]:
    """Bundled ETHUSDT, the old engine (OLD_COMMIT) and this one with the rules on, in fresh
    processes, alternated `rounds` times; the medians side by side and their ratio."""
    from passivbot.data.bundled import load_bundled

    candles = np.ascontiguousarray(load_bundled("ETHUSDT"), dtype=np.float64)
    times, rates, marks, source = funding_for(candles, "ETHUSDT")
    with tempfile.TemporaryDirectory(prefix="bench-old-engine-") as d:
        old_tree = Path(d) / "old"
        old_tree.mkdir()
        try:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_COMMIT],
                                     capture_output=True, check=True, timeout=120).stdout
            subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True,
                           timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"old engine: cannot extract {OLD_COMMIT} ({e}): side by side skipped",
                  file=sys.stderr)
            return []
        path, funding = str(Path(d) / "candles.npy"), str(Path(d) / "funding.npz")
        np.save(path, candles)
        np.savez(funding, times=times, rates=rates, marks=marks)
        cfg = str(Path(cfg_path).resolve())
        old, new = [], []
        for _ in range(rounds):
            old.append(_engine_cps(old_tree, cfg, path, funding, False, runs, d + "/nc-old"))
            new.append(_engine_cps(ROOT, cfg, path, funding, True, runs, d + "/nc-new"))
    o, n = statistics.median(old), statistics.median(new)
    load = os.getloadavg()[0]
    print(f"bundled ETHUSDT {len(candles):,} candles, {rounds} alternated rounds of {runs} runs "
          f"(load average {load:.2f}): old engine ({OLD_COMMIT}) "
          f"{', '.join(f'{x / 1e6:.1f}' for x in old)} M candles/s, this engine rules on "
          f"(funding {source}) {', '.join(f'{x / 1e6:.1f}' for x in new)} M candles/s")
    return [
        f"backtest_candles_per_s_eth_old_engine: {o:.0f} candles/s (median of {rounds} "
        f"alternated rounds, {OLD_COMMIT})",
        f"backtest_candles_per_s_eth_new_engine: {n:.0f} candles/s (median of {rounds}, funding "
        f"and margin rules on)",
        f"backtest_new_vs_old_engine_eth: {n / o:.3f} ratio (target >= 0.9; load average "
        f"{load:.2f})",
    ]


def bundled_eth_lines(cfg, base: tuple, runs: int) -> list[str]:
    """Bundled ETHUSDT: rules on vs off in this run, and the recorded pre-accounting figure."""
    from passivbot.data.bundled import load_bundled

    candles = np.ascontiguousarray(load_bundled("ETHUSDT"), dtype=np.float64)
    funding = funding_for(candles, "ETHUSDT")
    on = kernel_args(base, float(cfg.leverage), funding)
    off = kernel_args(base, np.inf, None)
    runs = max(runs, 7)
    dt_off, _ = time_runs(candles, off, runs)
    dt_on, n_fills = time_runs(candles, on, runs)
    dt_off2, _ = time_runs(candles, off, runs)  # again: the machine is noisy
    dt_off = min(dt_off, dt_off2)
    cps_on, cps_off = len(candles) / dt_on, len(candles) / dt_off
    print(f"bundled ETHUSDT {len(candles):,} candles: rules on {cps_on / 1e6:.1f} M candles/s "
          f"({n_fills:,} rows, funding {funding[3]}, leverage {cfg.leverage}), rules off "
          f"{cps_off / 1e6:.1f} M candles/s, recorded before {BASELINE_ETH_CPS / 1e6:.1f} M")
    return [
        f"backtest_candles_per_s_eth_rules_on: {cps_on:.0f} candles/s (target >= "
        f"{0.9 * BASELINE_ETH_CPS:.0f}: 90 % of {BASELINE_ETH_CPS} recorded before)",
        f"backtest_candles_per_s_eth_rules_off: {cps_off:.0f} candles/s (same kernel, no funding, "
        f"no margin check)",
        f"backtest_rules_on_vs_off_eth: {cps_on / cps_off:.3f} ratio (target >= 0.9)",
        f"backtest_rules_on_vs_recorded_eth: {cps_on / BASELINE_ETH_CPS:.3f} ratio (target >= 0.9)",
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candles", help=".npy candle array to time instead of synthetic spans")
    p.add_argument("--live-config", default=str(ROOT / "live_settings/ETH-J1.json"))
    p.add_argument("--runs", type=int, default=5, help="runs per span (median)")
    p.add_argument("--no-start-times", action="store_true", help="skip cold/warm start")
    p.add_argument("--old-rounds", type=int, default=3,
                   help=f"alternated rounds old engine ({OLD_COMMIT}) / this one (0: skip)")
    p.add_argument("--no-multi", action="store_true",
                   help="skip the symbol-candles/s lines of 1, 4 and 12 symbols on one wallet")
    p.add_argument("--only-old-vs-new", action="store_true",
                   help="only the side-by-side with the old engine on bundled ETHUSDT")
    a = p.parse_args()

    from passivbot.config import load_live_config, side_params
    from passivbot.data.synthetic import synthetic_candles
    from passivbot.markets import market_spec

    if a.only_old_vs_new:
        print("\n".join(old_engine_lines(a.live_config, max(1, a.old_rounds), max(a.runs, 7))))
        return 0
    cfg = load_live_config(a.live_config)
    lp, sp = side_params(cfg.long), side_params(cfg.short)
    if not (cfg.long.enabled and cfg.short.enabled):
        print(f"warning: {a.live_config} does not enable both sides", file=sys.stderr)
    spec = market_spec("binance", cfg.symbol)
    base = (lp, sp, spec.market_array(), spec.brackets_array(), 1000.0, 0.0002, 0.0005,
            spec.mmr_add)

    lines = []
    if not a.no_start_times:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
            cold = start_time(a.live_config, cache)
            warm = statistics.median(start_time(a.live_config, cache) for _ in range(3))
        print(f"start: cold {cold:.2f} s (fresh NUMBA_CACHE_DIR), warm {warm:.2f} s")

    from passivbot.backtest.engine import run_backtest_nb
    first = np.ascontiguousarray(synthetic_candles(500, 0))
    run_backtest_nb(first, *kernel_args(base, float(cfg.leverage), funding_for(first)))  # compile

    if a.candles:
        spans = [(Path(a.candles).name, np.ascontiguousarray(np.load(a.candles), dtype=np.float64))]
    else:
        spans = [(name, synthetic_candles(days * MIN_PER_DAY, seed=1)) for name, days in SPANS]
    cps = {}
    for name, candles in spans:
        runs = a.runs if len(candles) < 1_000_000 else max(3, a.runs // 2)
        args = kernel_args(base, float(cfg.leverage), funding_for(candles))
        dt, n_fills = time_runs(candles, args, runs)
        cps[name] = len(candles) / dt
        print(f"{name:>8}: {len(candles):>10,} candles  {dt * 1000:9.1f} ms  "
              f"{cps[name] / 1e6:7.1f} M candles/s  {n_fills:,} fills")
    name, big = spans[-1]
    peak_mb, added_mb = peak_memory(a.live_config, big)
    print(f"memory: {name} ({big.nbytes / 2**20:.0f} MB of candles): peak RSS {peak_mb:.0f} MB, "
          f"the backtest added {added_mb:.1f} MB")
    if not a.candles:
        lines += bundled_eth_lines(cfg, base, a.runs)
        if a.old_rounds > 0:
            lines += old_engine_lines(a.live_config, a.old_rounds, max(a.runs, 7))
        c30, c3 = cps["30d"], cps["3y"]
        lines.append(f"backtest_candles_per_s_30d: {c30:.0f} candles/s (target >= {TARGET_CPS})")
        lines.append(f"backtest_candles_per_s_1y: {cps['1y']:.0f} candles/s (target >= {TARGET_CPS})")
        lines.append(f"backtest_candles_per_s_3y: {c3:.0f} candles/s (target >= {TARGET_CPS}; "
                     f"{BASELINE_3Y_CPS} recorded before the accounting rules)")
        lines.append(f"backtest_linearity_3y_vs_30d: {c3 / c30:.2f} ratio (target ~1.0: cost linear in candles)")
    else:
        name = spans[0][0]
        lines.append(f"backtest_candles_per_s: {cps[name]:.0f} candles/s (target >= {TARGET_CPS})")
    lines.append(f"backtest_peak_rss_{name}: {peak_mb:.0f} MB (target: interpreter + candles "
                 f"{big.nbytes / 2**20:.0f} MB + small)")
    lines.append(f"backtest_added_memory_{name}: {added_mb:.1f} MB (target: O(fills + hours), "
                 f"<< candles)")
    if not a.no_start_times:
        lines.append(f"backtest_cold_start: {cold:.2f} s (target < 10)")
        lines.append(f"backtest_warm_start: {warm:.2f} s (target < 1)")
    if not a.no_multi:  # issue 19: the same days on 1, 4 and 12 symbols (bench/bench_multi.py)
        got = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_multi.py"), "--runs",
                              "3"], capture_output=True, text=True, timeout=1800)
        lines += [ln for ln in got.stdout.splitlines()
                  if ln.startswith(("multi_", "one_symbol_engine_"))]
        if got.returncode != 0:
            lines.append(f"bench_multi failed: {got.stderr.strip()[-500:]}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
