"""The synthetic generator: candle invariants, determinism per seed, nesting of ranges, speed."""

import os
import time

import numpy as np
import pytest

from passivbot.data.synthetic import DEFAULT_START_TS, synthetic_candles


@pytest.fixture(scope="module")
def week():
    return synthetic_candles(7 * 1440, seed=3)


def test_shape_dtype_and_minute_timestamps(week):
    assert week.shape == (7 * 1440, 6) and week.dtype == np.float64
    assert week[0, 0] == DEFAULT_START_TS
    assert np.all(np.diff(week[:, 0]) == 60_000)


def test_ohlc_invariants_hold_on_every_row(week):
    o, h, lo, c, v = week[:, 1], week[:, 2], week[:, 3], week[:, 4], week[:, 5]
    assert np.all(np.isfinite(week))
    assert np.all(lo > 0)
    assert np.all(h >= np.maximum(o, c)) and np.all(lo <= np.minimum(o, c))
    assert np.all(v > 0)
    assert week[0, 1] == 2000.0


def test_open_equals_previous_close_exactly(week):
    assert np.array_equal(week[1:, 1], week[:-1, 4])


def test_same_seed_same_array_and_distinct_seeds_differ(week):
    assert np.array_equal(synthetic_candles(7 * 1440, seed=3), week)
    other = synthetic_candles(7 * 1440, seed=4)
    assert not np.allclose(other[:, 4], week[:, 4])


def test_shorter_run_is_a_prefix_of_a_longer_one(week):
    assert np.array_equal(synthetic_candles(1440, seed=3), week[:1440])


def test_volume_grows_with_absolute_return_and_volatility_clusters():
    a = synthetic_candles(60 * 1440, seed=11)
    r = np.abs(np.diff(np.log(a[:, 4])))
    assert np.corrcoef(r, a[1:, 5])[0, 1] > 0.3
    # Volatility clustering: |return| is autocorrelated an hour apart (iid noise gives ~0).
    assert np.corrcoef(r[:-60], r[60:])[0, 1] > 0.05


def test_start_ts_and_price_respected_and_validated():
    a = synthetic_candles(10, seed=0, start_ts=DEFAULT_START_TS + 86_400_000, start_price=5.0)
    assert a[0, 0] == DEFAULT_START_TS + 86_400_000 and a[0, 1] == 5.0
    with pytest.raises(ValueError):
        synthetic_candles(10, seed=0, start_ts=1_600_000_000_001)
    with pytest.raises(ValueError):
        synthetic_candles(10, seed=0, start_price=0.0)
    assert synthetic_candles(0, seed=0).shape == (0, 6)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="speed needs the JIT")
def test_three_years_generate_in_under_a_second_after_compile():
    synthetic_candles(100, seed=1)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        synthetic_candles(3 * 525_600, seed=1)
        times.append(time.perf_counter() - t)
    assert min(times) < 1.0
