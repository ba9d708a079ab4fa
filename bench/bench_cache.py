"""Candle cache benchmark: load 1 year of cached 1m candles, and download rate from the emulator.

Runs without arguments on synthetic candles in a temporary directory and stops by itself.
Last lines: `name: value unit (target ...)`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passivbot.data.cache import CandleCache  # noqa: E402
from passivbot.data.days import day_start_ms, days_between, parse_day  # noqa: E402
from passivbot.data.fetch import download_range  # noqa: E402
from passivbot.data.loader import load_candles  # noqa: E402
from passivbot.data.synthetic import synthetic_candles  # noqa: E402

START, END = parse_day("2023-01-01"), parse_day("2024-01-01")
RUNS = 7
DOWNLOAD_DAYS = 30


def make_cache(root: str) -> tuple[np.ndarray, float]:
    days = days_between(START, END)
    arr = synthetic_candles(len(days) * 1440, seed=1, start_ts=day_start_ms(START))
    cache = CandleCache(root, "binance", "ETHUSDT")
    t = time.perf_counter()
    for i, d in enumerate(days):
        cache.write(d, arr[i * 1440:(i + 1) * 1440])
    return arr, time.perf_counter() - t


def bench_load(root: str, arr: np.ndarray) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        got = load_candles("binance", "ETHUSDT", START, END, cache_dir=root, download=False)
        times.append(time.perf_counter() - t)
        assert np.array_equal(got, arr)
    return statistics.median(times)


async def bench_download(root: str, rate_limit: bool) -> float:
    from passivbot.emulator import Emulator

    n = DOWNLOAD_DAYS * 1440
    src = synthetic_candles(n + 1, seed=2, start_ts=day_start_ms(START))
    src[:, 1:5] = np.round(src[:, 1:5], 2)
    emu = Emulator(exchange="binance", symbol="ETHUSDT", candles=src, start_index=n)
    await emu.start(host="127.0.0.1", port=0)
    try:
        end = days_between(START, END)[DOWNLOAD_DAYS]
        s = await download_range("binance", "ETHUSDT", START, end, cache_dir=root,
                                 emulator=f"127.0.0.1:{emu.port}", progress=False,
                                 rate_limit=rate_limit)
    finally:
        await emu.stop()
    assert s.ok and s.candles_fetched == n
    return s.candles_fetched / s.seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        arr, write_s = make_cache(root)
        print(f"wrote {len(arr)} candles as 365 day files in {write_s:.2f} s (atomic, fsync)")
        load_s = bench_load(root, arr)
    with tempfile.TemporaryDirectory() as root:
        rate_limited = asyncio.run(bench_download(root, rate_limit=True))
    with tempfile.TemporaryDirectory() as root:
        unlimited = asyncio.run(bench_download(root, rate_limit=False))
    print(f"download: {DOWNLOAD_DAYS} days from the emulator on 127.0.0.1 through ccxt binanceusdm")
    print(f"cache_write_1y_s: {write_s:.2f} s (target none)")
    print(f"cache_load_1y_s: {load_s:.3f} s (target < 0.3)")
    print(f"download_rate_rate_limited: {rate_limited:.0f} candles/s (target none; ccxt's "
          "Binance limiter: 2 requests of weight 5 a day, ~2 days/s)")
    print(f"download_rate_unthrottled: {unlimited:.0f} candles/s (target none)")


if __name__ == "__main__":
    main()
