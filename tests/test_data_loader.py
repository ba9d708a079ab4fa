"""load_candles from the cache (speed, errors) and load_source for bundled and synthetic data."""

import statistics
import time
from datetime import date, timedelta

import numpy as np
import pytest

from passivbot.data import DataError, bundled_range, load_candles, load_source
from passivbot.data.cache import CandleCache
from passivbot.data.days import day_start_ms, days_between
from passivbot.data.synthetic import synthetic_candles


def fill_cache(root, start: date, n_days: int, seed: int = 1) -> np.ndarray:
    arr = synthetic_candles(n_days * 1440, seed=seed, start_ts=day_start_ms(start))
    cache = CandleCache(root, "binance", "ETHUSDT")
    for i, d in enumerate(days_between(start, date.fromordinal(start.toordinal() + n_days))):
        cache.write(d, arr[i * 1440:(i + 1) * 1440])
    return arr


def test_one_year_loads_exactly_in_under_0_3_s(tmp_path):
    arr = fill_cache(tmp_path, date(2023, 1, 1), 365)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        got = load_candles("binance", "ETHUSDT", "2023-01-01", "2024-01-01", cache_dir=tmp_path,
                           download=False)
        times.append(time.perf_counter() - t)
    assert np.array_equal(got, arr) and got.flags.writeable
    assert statistics.median(times) < 0.3


def test_missing_and_corrupt_days_are_named_as_ranges_with_the_command(tmp_path):
    fill_cache(tmp_path, date(2024, 1, 1), 10)
    cache = CandleCache(tmp_path, "binance", "ETHUSDT")
    cache.path(date(2024, 1, 5)).write_bytes(b"junk")
    with pytest.raises(DataError) as e:
        load_candles("binance", "ETHUSDT", "2023-12-30", "2024-01-13", cache_dir=str(tmp_path),
                     download=False)
    msg = str(e.value)
    assert "5 day(s): 2023-12-30..2023-12-31, 2024-01-05, 2024-01-11..2024-01-12" in msg
    assert ("python3 downloader.py --exchange binance --symbol ETHUSDT --start-date 2023-12-30 "
            f"--end-date 2024-01-13 --cache-dir {tmp_path}") in msg


def test_a_partial_day_is_accepted_only_at_the_end(tmp_path):
    arr = fill_cache(tmp_path, date(2024, 1, 1), 3)
    cache = CandleCache(tmp_path, "binance", "ETHUSDT")
    cache.write(date(2024, 1, 3), arr[2880:2880 + 100])
    got = load_candles("binance", "ETHUSDT", "2024-01-01", "2024-01-04", cache_dir=tmp_path,
                       download=False)
    assert np.array_equal(got, arr[:2980])
    cache.write(date(2024, 1, 2), arr[1440:1440 + 100])
    with pytest.raises(DataError, match="2024-01-02"):
        load_candles("binance", "ETHUSDT", "2024-01-01", "2024-01-04", cache_dir=tmp_path,
                     download=False)


def test_bad_dates_are_data_errors():
    with pytest.raises(DataError, match="after start"):
        load_candles("binance", "ETHUSDT", "2024-01-02", "2024-01-01", download=False)
    with pytest.raises(DataError, match="YYYY-MM-DD"):
        load_candles("binance", "ETHUSDT", "yesterday", "2024-01-01", download=False)


def test_bundled_source_slices_by_day_and_states_its_range():
    a = load_source("bundled", "binance", "ETHUSDT", "2025-05-10", "2025-05-12")
    assert a.shape == (2880, 6) and a[0, 0] == day_start_ms(date(2025, 5, 10))
    assert np.all(np.diff(a[:, 0]) == 60_000)
    whole = load_source("bundled", "binance", "ETHUSDT", None, None)
    assert len(whole) == 73_140
    with pytest.raises(DataError, match=r"2025-05-04 15:33 .. 2025-06-24 10:32 UTC"):
        load_source("bundled", "binance", "ETHUSDT", "2024-01-01", "2024-02-01")
    with pytest.raises(DataError, match="bundled: ADAUSDT, .*XRPUSDT"):
        load_source("bundled", "binance", "DOGEUSDT", None, None)


# Rows per symbol from bundled/README.md (the provenance table).
BUNDLED_ROWS = {"ADAUSDT": 65_776, "AVAXUSDT": 43_199, "BCHUSDT": 43_199, "BNBUSDT": 73_139,
                "BTCUSDT": 73_139, "ENAUSDT": 43_200, "ETCUSDT": 43_199, "ETHUSDT": 73_140,
                "LINKUSDT": 43_200, "LTCUSDT": 73_140, "SOLUSDT": 73_141, "XLMUSDT": 43_200,
                "XRPUSDT": 73_138}


@pytest.mark.parametrize("symbol", sorted(BUNDLED_ROWS))
def test_every_bundled_symbol_loads_as_valid_contiguous_candles(symbol):
    a = load_source("bundled", "binance", symbol, None, None)
    assert len(a) == BUNDLED_ROWS[symbol]
    assert np.all(np.diff(a[:, 0]) == 60_000) and a[0, 0] % 60_000 == 0
    assert np.all(a[:, 2] >= np.maximum(a[:, 1], a[:, 4]))
    assert np.all(a[:, 3] <= np.minimum(a[:, 1], a[:, 4])) and np.all(a[:, 3] > 0)
    first, end = bundled_range(symbol)
    day = load_source("bundled", "binance", symbol, first + timedelta(days=1),
                      first + timedelta(days=2))
    assert day.shape == (1440, 6) and day[0, 0] == day_start_ms(first + timedelta(days=1))


def test_synthetic_source_is_deterministic_for_the_date_range():
    a = load_source("synthetic", "binance", "ETHUSDT", "2024-01-01", "2024-01-03", seed=4)
    b = load_source("synthetic", "binance", "ETHUSDT", "2024-01-01", "2024-01-03", seed=4)
    assert a.shape == (2880, 6) and np.array_equal(a, b)
    assert a[0, 0] == day_start_ms(date(2024, 1, 1))
    with pytest.raises(DataError, match="unknown data_source"):
        load_source("csv", "binance", "ETHUSDT", "2024-01-01", "2024-01-03")


def test_a_gap_in_candles_is_an_error_naming_where():
    from passivbot.data.loader import check_contiguous

    a = synthetic_candles(100, seed=2, start_ts=day_start_ms(date(2024, 1, 1)))
    assert check_contiguous(a, "x") is a
    holed = np.delete(a, [40, 41], axis=0)
    with pytest.raises(DataError, match=r"x: candles are not one minute apart: 1 break\(s\), "
                                        rf"the first after ts {a[39, 0]:.0f} .*\+3 minutes"):
        check_contiguous(holed, "x")
    every_other = a[::2]
    with pytest.raises(DataError, match="49 break"):  # halved days would read 2 x too fast
        check_contiguous(every_other, "x")
