"""The downloader against the emulator (real ccxt over 127.0.0.1): exact ranges, resume after
SIGKILL, append, repair, retries, the current day, and load_candles' errors."""

import asyncio
import logging
import os
import signal
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from passivbot.data.cache import CandleCache
from passivbot.data.days import day_start_ms
from passivbot.data.errors import DataError
from passivbot.data.fetch import download_range
from passivbot.data.loader import load_candles
from passivbot.data.synthetic import synthetic_candles
from passivbot.emulator import Emulator
from passivbot.exchanges.ccxt_factory import create_exchange
from harness.emulator import eventually

ROOT = Path(__file__).resolve().parents[1]
D0 = date(2024, 1, 1)


def exchange_like(n_minutes: int, seed: int = 7) -> np.ndarray:
    """Synthetic candles at exchange precision (0.01 price, 0.001 qty), as a venue serves."""
    a = synthetic_candles(n_minutes, seed, start_ts=day_start_ms(D0))
    a[:, 1:5] = np.round(a[:, 1:5], 2)
    a[:, 5] = np.round(a[:, 5], 3)
    return a


def klines(emu) -> int:
    return sum(v for k, v in emu.counters["requests"].items()
               if "kline" in k and "mark-price" not in k and "markPrice" not in k)


async def serve(candles, exchange="binance", clock=None):
    emu = Emulator(exchange=exchange, symbol="ETHUSDT", candles=candles,
                   start_index=len(candles) - 1 if clock is None else clock)
    await emu.start(host="127.0.0.1", port=0)
    return emu


def cached(tmp_path, exchange="binance"):
    c = CandleCache(tmp_path, exchange, "ETHUSDT")
    days = sorted(c.dir.glob("*.npy"))
    return np.concatenate([np.load(p) for p in days]) if days else np.empty((0, 6))


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_range_download_equals_the_source_exactly(tmp_path, exchange):
    src = exchange_like(3 * 1440 + 1)  # the extra minute is the emulator's "now"
    emu = await serve(src, exchange)
    try:
        s = await download_range(exchange, "ETHUSDT", "2024-01-01", "2024-01-04",
                                 cache_dir=tmp_path, emulator=f"127.0.0.1:{emu.port}",
                                 progress=False)
    finally:
        await emu.stop()
    assert s.ok and len(s.days_fetched) == 3 and s.days_from_cache == []
    assert s.candles_fetched == 3 * 1440 and s.gap_minutes == 0
    assert klines(emu) == 6  # two pages of <= 1000 a day
    assert np.array_equal(cached(tmp_path, exchange), src[:-1])


async def test_extending_the_end_date_fetches_only_the_new_days(tmp_path):
    src = exchange_like(5 * 1440 + 1)
    emu = await serve(src)
    url = f"127.0.0.1:{emu.port}"
    try:
        await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-04", cache_dir=tmp_path,
                             emulator=url, progress=False)
        before = klines(emu)
        s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-06",
                                 cache_dir=tmp_path, emulator=url, progress=False)
        assert klines(emu) - before == 4  # 2 new days x 2 pages
        assert len(s.days_from_cache) == 3 and s.days_fetched == [date(2024, 1, 4),
                                                                   date(2024, 1, 5)]
        again = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-06",
                                     cache_dir=tmp_path, emulator=url, progress=False)
        assert again.requests == 0 and len(again.days_from_cache) == 5
    finally:
        await emu.stop()
    assert np.array_equal(cached(tmp_path), src[:-1])


async def test_corrupted_day_is_reported_and_fetched_again(tmp_path, caplog):
    src = exchange_like(3 * 1440 + 1)
    emu = await serve(src)
    url = f"127.0.0.1:{emu.port}"
    try:
        await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-04", cache_dir=tmp_path,
                             emulator=url, progress=False)
        bad = CandleCache(tmp_path, "binance", "ETHUSDT").path(date(2024, 1, 2))
        raw = bytearray(bad.read_bytes())
        raw[500] ^= 0xFF
        bad.write_bytes(bytes(raw))
        with caplog.at_level(logging.WARNING):
            s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-04",
                                     cache_dir=tmp_path, emulator=url, progress=False)
    finally:
        await emu.stop()
    assert str(bad) in caplog.text
    assert s.days_fetched == [date(2024, 1, 2)] and len(s.days_from_cache) == 2
    assert np.array_equal(cached(tmp_path), src[:-1])


async def test_429_burst_is_retried_and_the_result_is_complete(tmp_path):
    src = exchange_like(2 * 1440 + 1)
    emu = await serve(src)
    try:
        emu.faults.http_errors(status=429, count=5)
        s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-03",
                                 cache_dir=tmp_path, emulator=f"127.0.0.1:{emu.port}",
                                 progress=False, base_delay=0.01, max_delay=0.05, attempts=8)
        assert s.ok and s.retries == 5
    finally:
        await emu.stop()
    assert np.array_equal(cached(tmp_path), src[:-1])


async def test_dropped_connection_and_5xx_are_retried(tmp_path):
    """A response that never comes (the client times out and drops the connection) and a 503:
    both retried, nothing missing."""
    src = exchange_like(2 * 1440 + 1)
    emu = await serve(src)
    ex = create_exchange("binance", api_key=None, secret=None, emulator=f"127.0.0.1:{emu.port}")
    ex.timeout = 300  # ms
    try:
        await ex.load_markets()
        emu.faults.delay(seconds=2.0, count=1)
        s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-02",
                                 cache_dir=tmp_path, client=ex, progress=False,
                                 base_delay=0.01, max_delay=0.05)
        assert s.ok and s.retries >= 1
        emu.faults.http_errors(status=503, count=2)
        s = await download_range("binance", "ETHUSDT", "2024-01-02", "2024-01-03",
                                 cache_dir=tmp_path, client=ex, progress=False,
                                 base_delay=0.01, max_delay=0.05)
        assert s.ok and s.retries >= 2
    finally:
        await ex.close()
        await emu.stop()
    assert np.array_equal(cached(tmp_path), src[:-1])


async def test_sigkill_mid_range_then_rerun_gives_the_source_exactly(tmp_path):
    n_days = 8
    src = exchange_like(n_days * 1440 + 1)
    emu = await serve(src)
    url = f"127.0.0.1:{emu.port}"
    cache = CandleCache(tmp_path, "binance", "ETHUSDT")
    try:
        emu.faults.delay(seconds=0.15, count=10_000)  # slow enough to be killed mid-range
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "downloader.py"), "--exchange", "binance", "--symbol",
            "ETHUSDT", "--start-date", "2024-01-01", "--end-date", "2024-01-09", "--emulator",
            url, "--cache-dir", str(tmp_path), "--no-progress", cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await eventually(lambda: len(list(cache.dir.glob("*.npy"))) >= 2, timeout=60)
        finally:
            proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
        written = sorted(cache.dir.glob("*.npy"))
        assert 2 <= len(written) < n_days, "killed mid-range"
        # Atomic writes: every file the killed process left is a complete, valid day.
        assert all(cache.read(date.fromisoformat(p.stem)).status == "complete" for p in written)
        emu.faults.delay(0, 0)
        s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-09",
                                 cache_dir=tmp_path, emulator=url, progress=False)
    finally:
        await emu.stop()
    assert s.ok and len(s.days_from_cache) == len(written)
    assert len(s.days_fetched) == n_days - len(written)
    assert np.array_equal(cached(tmp_path), src[:-1])  # nothing duplicated or missing


async def test_current_day_is_partial_then_refreshed(tmp_path):
    src = exchange_like(2 * 1440 + 721)
    emu = await serve(src, clock=2 * 1440 + 600)  # "now" is 10:00 on day 3
    url = f"127.0.0.1:{emu.port}"
    try:
        s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-04",
                                 cache_dir=tmp_path, emulator=url, progress=False)
        assert s.partial_days == [date(2024, 1, 3)]
        got = await asyncio.to_thread(load_candles, "binance", "ETHUSDT", "2024-01-01",
                                      "2024-01-04", cache_dir=tmp_path, download=False)
        assert np.array_equal(got, src[: 2 * 1440 + 600])
        await emu.advance(100)
        s = await download_range("binance", "ETHUSDT", "2024-01-01", "2024-01-04",
                                 cache_dir=tmp_path, emulator=url, progress=False)
        assert s.days_fetched == [date(2024, 1, 3)] and len(s.days_from_cache) == 2
    finally:
        await emu.stop()
    assert np.array_equal(cached(tmp_path), src[: 2 * 1440 + 700])


async def test_load_candles_downloads_missing_days_from_the_emulator(tmp_path):
    src = exchange_like(3 * 1440 + 1)
    emu = await serve(src)
    try:
        got = await asyncio.to_thread(load_candles, "binance", "ETHUSDT", "2024-01-02",
                                      "2024-01-04", cache_dir=str(tmp_path),
                                      emulator=f"127.0.0.1:{emu.port}")
    finally:
        await emu.stop()
    assert np.array_equal(got, src[1440:-1])


def test_load_candles_unreachable_exchange_names_missing_days_and_command(tmp_path):
    CandleCache(tmp_path, "binance", "ETHUSDT").write(date(2024, 1, 2), exchange_like(2880)[1440:])
    with pytest.raises(DataError) as e:
        load_candles("binance", "ETHUSDT", "2024-01-01", "2024-01-05", cache_dir=str(tmp_path),
                     emulator="127.0.0.1:9", attempts=1)
    msg = str(e.value)
    assert "2024-01-01, 2024-01-03..2024-01-04" in msg
    assert "python3 downloader.py --exchange binance --symbol ETHUSDT --start-date 2024-01-01 " \
           "--end-date 2024-01-05" in msg
    assert "download failed" in msg
