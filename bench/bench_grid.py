"""Microseconds per ideal_orders call (one side, with a position) after compile, and the cold
(empty numba cache) and warm (cached) import-and-first-call times.

Run: python3 bench/bench_grid.py   (no arguments; about 20 s)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST_CALL = """
import time; t0 = time.perf_counter()
import numpy as np
from passivbot import grid
from passivbot.markets import market_spec
p = np.array([1, 0.5, 240, 720, 0.02, 0.003, 0.8, 0.02, 1.0, 0.004, 0.012, 5.0])
m = market_spec('binance', 'ETHUSDT').market_array()
grid.ideal_orders_nb(1, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 1995.0, p, m)
print(time.perf_counter() - t0)
"""


def first_call_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import numpy as np

    from passivbot import grid
    from passivbot.markets import market_spec
    from passivbot.records import LONG, SHORT

    p = np.array([1, 0.5, 240, 720, 0.02, 0.003, 0.8, 0.02, 1.0, 0.004, 0.012, 5.0])
    m = market_spec("binance", "ETHUSDT").market_array()
    grid.ideal_orders_nb(LONG, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 1995.0, p, m)
    grid.ideal_orders_nb(SHORT, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 2005.0, p, m)
    n = 20_000
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        for i in range(n):
            grid.ideal_orders_nb(LONG, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 1995.0 - (i & 7), p, m)
        runs.append((time.perf_counter() - t0) / n * 1e6)
    e, c = grid.ideal_orders_nb(LONG, 1000.0, 0.05, 2000.0, 1990.0, 2010.0, 1995.0, p, m)
    us = statistics.median(runs)

    with tempfile.TemporaryDirectory() as d:
        cold = first_call_seconds(d)
        warm = statistics.median(first_call_seconds(d) for _ in range(3))

    print(f"orders per call: {e.shape[0]} entries + {c.shape[0]} closes (ETHUSDT, 0.05 ETH @ 2000)")
    print(f"ideal_orders_us: {us:.2f} us/call (target < 5)")
    print(f"grid_cold_start_s: {cold:.2f} s (import + compile + first call, empty cache)")
    print(f"grid_warm_start_s: {warm:.2f} s (import + first call, numba cache)")


if __name__ == "__main__":
    main()
