"""Funding history, mark prices and the market spec downloaded from the emulator (real ccxt over
127.0.0.1) beside the candles: exact round trip, resume without requests, partial coverage
extended on either side, any bundled symbol, and what load_funding / market_spec then read."""

import numpy as np
import pytest

from passivbot.data.days import day_start_ms
from passivbot.data.perp import load_funding
from passivbot.data.series_cache import funding_file, mark_file
from passivbot.markets import market_spec
from tests.test_data_download import D0, exchange_like

Emulator = pytest.importorskip("passivbot.emulator").Emulator

H = 3_600_000
T0 = day_start_ms(D0)


def funding_events() -> np.ndarray:
    """8-hourly events stamped a few ms late, switching to 4-hourly on the third day."""
    hours = [0, 8, 16, 24, 32, 40, 48, 52, 56, 60, 64, 68]
    t = np.array([T0 + h * H + (h % 5) for h in hours], dtype=np.float64)
    rates = np.array([1e-4, -2e-4, 3e-5, 1.5e-4, -5e-5, 1e-4, 2e-4, 2.5e-4, -1e-4, 7e-5, 0.0,
                      4e-4])
    return np.column_stack([t, rates])


async def serve(exchange="binance", symbol="ETHUSDT", scale=1.0):
    src = exchange_like(3 * 1440 + 1)
    src[:, 1:5] = np.round(src[:, 1:5] * scale, 4)
    emu = Emulator(exchange=exchange, symbol=symbol, candles=src, start_index=len(src) - 1)
    emu.funding = funding_events()
    await emu.start(host="127.0.0.1", port=0)
    return emu, src


def requests(emu, part: str) -> int:
    return sum(v for k, v in emu.counters["requests"].items() if part in k)


async def download(emu, exchange, tmp_path, symbol="ETHUSDT", start="2024-01-01",
                   end="2024-01-04"):
    from passivbot.data.fetch import download_range

    return await download_range(exchange, symbol, start, end, cache_dir=tmp_path,
                                emulator=f"127.0.0.1:{emu.port}", progress=False)


@pytest.mark.parametrize("exchange", ["binance", "bybit"])
async def test_funding_mark_and_spec_round_trip(tmp_path, exchange):
    emu, src = await serve(exchange)
    try:
        s = await download(emu, exchange, tmp_path)
        funding_calls = requests(emu, "fundingRate") + requests(emu, "funding/history")
        mark_calls = requests(emu, "markPriceKlines") + requests(emu, "mark-price-kline")
    finally:
        await emu.stop()
    assert s.ok, s.format()
    assert s.perp.funding_events == 12 and s.perp.mark_candles == 72
    assert funding_calls == s.perp.funding_requests == 1 and mark_calls == 1

    f = load_funding(exchange, "ETHUSDT", T0, T0 + 72 * H, cache_dir=tmp_path)
    ev = funding_events()
    assert f.source == "cache" and f.covered_ms == (T0, T0 + 72 * H)
    assert f.times_ms.tolist() == [int(t) // 60_000 * 60_000 for t in ev[:, 0]]
    assert np.array_equal(f.rates, ev[:, 1])
    assert 4 * H in set(np.diff(f.times_ms)) and 8 * H in set(np.diff(f.times_ms))
    minute = (f.times_ms - T0) // 60_000  # the emulator marks at the last price: candle opens
    assert np.array_equal(f.mark, src[minute, 1])

    spec = market_spec(exchange, "ETHUSDT", cache_dir=tmp_path)
    ref = market_spec(exchange, "ETHUSDT")
    assert spec.source.startswith("cache:")
    assert spec.market_array().tolist() == ref.market_array().tolist()
    assert spec.tiers == ref.tiers and spec.mmr_add == ref.mmr_add


async def test_a_rerun_over_a_covered_range_makes_no_request(tmp_path):
    emu, _ = await serve()
    try:
        await download(emu, "binance", tmp_path)
        before = sum(emu.counters["requests"].values())
        s = await download(emu, "binance", tmp_path)
        after = sum(emu.counters["requests"].values())
    finally:
        await emu.stop()
    assert s.ok and s.requests == 0 and after == before
    assert s.perp.funding_requests == s.perp.mark_requests == 0
    assert s.perp.funding_events == 12 and "kept" in s.perp.spec


async def test_coverage_is_extended_on_both_sides_one_window_at_a_time(tmp_path):
    emu, src = await serve()
    try:
        await download(emu, "binance", tmp_path, start="2024-01-02", end="2024-01-03")
        ff = funding_file(tmp_path, "binance", "ETHUSDT")
        rows, cov = ff.read()
        assert cov == (T0 + 24 * H, T0 + 48 * H) and len(rows) == 3
        s = await download(emu, "binance", tmp_path)  # day 1 before it, day 3 after it
    finally:
        await emu.stop()
    rows, cov = ff.read()
    assert cov == (T0, T0 + 72 * H) and np.array_equal(rows, funding_events())
    assert s.perp.funding_requests == 2 and s.perp.mark_requests == 2
    mrows, mcov = mark_file(tmp_path, "binance", "ETHUSDT").read()
    assert mcov == (T0, T0 + 72 * H) and np.array_equal(mrows[:, 0], T0 + H * np.arange(72))
    hour = src[:72 * 60].reshape(72, 60, 6)
    assert np.array_equal(mrows[:, 1], hour[:, 0, 1]) and np.array_equal(mrows[:, 4], hour[:, -1, 4])
    assert np.array_equal(mrows[:, 2], hour[:, :, 2].max(axis=1))


async def test_nothing_at_or_after_the_exchange_clock_is_marked_covered(tmp_path):
    src = exchange_like(2 * 1440 + 721)
    emu = Emulator(exchange="binance", symbol="ETHUSDT", candles=src, start_index=2 * 1440 + 600)
    emu.funding = funding_events()
    await emu.start(host="127.0.0.1", port=0)
    try:
        s = await download(emu, "binance", tmp_path)
    finally:
        await emu.stop()
    _, cov = funding_file(tmp_path, "binance", "ETHUSDT").read()
    assert cov == (T0, T0 + 58 * H)  # "now" is day 3, 10:00: events up to it, none claimed after
    assert s.perp.funding_events == 9 and s.perp.mark_candles == 58


async def test_a_bundled_symbol_other_than_eth_downloads_with_its_snapshot_tiers(tmp_path):
    emu, _ = await serve("binance", "SOLUSDT", scale=0.07)
    try:
        s = await download(emu, "binance", tmp_path, symbol="SOLUSDT")
    finally:
        await emu.stop()
    assert s.ok and "bundled snapshot" in s.perp.spec
    spec = market_spec("binance", "SOLUSDT", cache_dir=tmp_path)
    assert spec.source.startswith("cache:") and spec.tiers == market_spec("binance", "SOLUSDT").tiers
    assert load_funding("binance", "SOLUSDT", T0, T0 + 72 * H, tmp_path).source == "cache"
