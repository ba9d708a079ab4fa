#!/usr/bin/env python3
"""Multi-symbol backtest speed: symbol-candles per second for 1, 4 and 12 symbols on one wallet
over the same days of the bundled sample (funding, leverage 7, both sides, the same per-symbol
strategy in every run), against the one-symbol engine running each of the 12 symbols alone.

    python3 bench/bench_multi.py [--days N] [--runs N]

The runs take turns (minimum of --runs rounds) so the load of a shared machine hits all alike.

Symbol-candles = candles of each symbol on the common minute axis, summed over symbols. The
12 symbols are the bundled ones with the same first month (ADAUSDT lists later: left out).
Every figure covers the same 12 symbols and days: 12 wallets of 1 symbol, 3 wallets of 4, one
wallet of 12, and the one-symbol engine on each symbol alone.
Targets (issue 19): the 12-symbol figure at least 80 % of the 1-symbol figure per symbol-candle,
and of the one-symbol engine's.
The last lines are `name: value unit (target ...)`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SYMBOLS = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "LTCUSDT", "AVAXUSDT",
           "BCHUSDT", "ENAUSDT", "ETCUSDT", "LINKUSDT", "XLMUSDT")
PER_SYMBOL_WEL = 0.25  # 12 x 0.25 x 2 sides = 6 <= leverage 7
TARGET_RATIO = 0.8
GROUPS = (1, 4, 12)  # symbols per wallet


def _inputs(days: int):
    from passivbot.backtest.multi import SymbolInput
    from passivbot.backtest.runner import warmup_for
    from passivbot.config import load_live_config, side_params
    from passivbot.data.bundled import load_bundled
    from passivbot.data.perp import load_funding
    from passivbot.markets import market_spec

    live = load_live_config(ROOT / "live_settings" / "default.json")
    out = []
    for s in SYMBOLS:
        c = load_bundled(s)[: days * 1440]
        spec = market_spec("binance", s)
        f = load_funding("binance", s, int(c[0, 0]), int(c[-1, 0]) + 60_000)
        lp, sp = side_params(live.long), side_params(live.short)
        lp[1] = sp[1] = PER_SYMBOL_WEL
        out.append(SymbolInput(s, c, lp, sp, spec.market_array(), spec.brackets_array(),
                               spec.mmr_add, np.asarray(f.times_ms, np.int64),
                               np.asarray(f.rates), np.asarray(f.mark), warmup_for(lp, sp, len(c))))
    return out


def _interleaved(fns: dict, runs: int) -> dict[str, float]:
    """Minimum seconds of each function over `runs` rounds, the functions taking turns in each
    round (the shared machine's load then hits all of them alike)."""
    for f in fns.values():
        f()  # compile / load the cache
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in ts.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=29)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    import logging

    logging.disable(logging.WARNING)  # "funding known only for ..." notes
    from passivbot.backtest.engine import run_backtest
    from passivbot.backtest.multi import run_multi_backtest

    ins = _inputs(a.days)

    def single_alone():
        for x in ins:
            run_backtest(x.candles, x.long_params, x.short_params, x.market, x.brackets, 1000.0,
                         0.0002, 0.0005, x.mmr_add, leverage=7.0, funding_times=x.funding_times,
                         funding_rates=x.funding_rates, funding_marks=x.funding_marks,
                         warmup=x.warmup)

    def multi_groups(n: int):
        """The 12 symbols in 12 / n wallets of n symbols each: every figure covers the same
        symbol-candles, so per symbol-candle they compare like for like."""
        def run():
            for g in range(0, len(ins), n):
                run_multi_backtest(ins[g:g + n], 1000.0, 0.0002, 0.0005, leverage=7.0)
        return run

    fns = {"one-symbol engine, each symbol alone": single_alone}
    for n in GROUPS:
        fns[f"multi engine, {n} symbols per wallet"] = multi_groups(n)
    best = _interleaved(fns, a.runs)
    n_sc = {n: sum(len(run_multi_backtest(ins[g:g + n], 1000.0, 0.0002, 0.0005,
                                          leverage=7.0).axis_ts) * len(ins[g:g + n])
                   for g in range(0, len(ins), n)) for n in GROUPS}
    n_alone = sum(len(x.candles) for x in ins)
    print(f"one-symbol engine, each symbol alone: {n_alone:,} symbol-candles in "
          f"{best['one-symbol engine, each symbol alone'] * 1000:.0f} ms")
    rate = {}
    for n in GROUPS:
        t = best[f"multi engine, {n} symbols per wallet"]
        rate[n] = n_sc[n] / t
        print(f"multi engine, {len(ins) // n} x {n} symbols per wallet: {n_sc[n]:,} "
              f"symbol-candles in {t * 1000:.0f} ms")
    single = n_alone / best["one-symbol engine, each symbol alone"]
    for n, v in rate.items():
        print(f"multi_symbol_candles_per_s_{n}: {v:.0f} symbol-candles/s ({n} symbols per "
              f"wallet)")
    print(f"one_symbol_engine_symbol_candles_per_s: {single:.0f} symbol-candles/s")
    print(f"multi_12_vs_multi_1: {rate[12] / rate[1]:.2f} ratio (target >= {TARGET_RATIO}: "
          f"per symbol-candle, the cost of sharing one wallet)")
    print(f"multi_12_vs_one_symbol_engine: {rate[12] / single:.2f} ratio "
          f"(target >= {TARGET_RATIO})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
